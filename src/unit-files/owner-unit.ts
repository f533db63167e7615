/**
 * Root writing the unit of an account's root (the account may not write /etc/systemd/system): what the unit then runs
 * must run as that account and nothing else, since what it runs is named by a config.json the account writes. So the
 * root's config names no other service account (that would make our commands in it privileged, `+`), and a system
 * unit that exists already runs as the account (`User=`): a root of the account's never lends its Node or its
 * boot-check to a unit that runs as root or as somebody else.
 */
import { ReleaseSwitcherError } from '../model/errors.js';
import { accountName } from '../platform/accounts.js';
import { systemctl } from '../service/systemctl.js';
import type { Config } from '../store/config.js';
import { rootIdentity } from '../store/root-trust.js';

const refuse = (message: string, hint: string, details: Record<string, unknown>) =>
  new ReleaseSwitcherError('PERMISSION_DENIED', message, { hint, details });

/** Refuse (PERMISSION_DENIED) root's unit for an account's root unless everything in it runs as that account. */
export async function assertUnitForOwner(root: string, config: Config, env: NodeJS.ProcessEnv): Promise<void> {
  if ((process.getuid?.() ?? 0) !== 0) return;
  const identity = rootIdentity(root);
  if (!identity || identity.uid === 0) return;
  const owner = accountName(identity.uid) ?? `uid ${identity.uid}`;
  const details = { path: root, owner, ownerUid: identity.uid, account: 'root', uid: 0 };
  if (config.serviceUser !== null && config.serviceUser !== owner)
    throw refuse(
      `${root} is ${owner}'s root, and its config.json names ${config.serviceUser} as the service's account: root does not write a unit that runs ${owner}'s settings as another account.`,
      `The account that runs the service keeps its own root (sudo -u ${config.serviceUser} release-switcher init …), or root keeps it (sudo release-switcher --root /var/lib/release-switcher/<app> init …).`,
      { ...details, reason: 'service-user' },
    );
  if (config.supervisor !== 'systemd-system' || !config.unit) return; // no system unit: nothing runs as another
  const name = config.unit.endsWith('.service') ? config.unit : `${config.unit}.service`;
  const shown = await systemctl(['show', name, '--property=User', '--property=LoadState'], {
    scope: 'system',
    env,
  });
  const prop = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(shown.output)?.[1] ?? '';
  if (shown.exitCode === 0 && prop('LoadState') === 'not-found') return; // a new unit: its User= is the config's
  const user = shown.exitCode === 0 ? prop('User') || 'root' : '(unknown)';
  if (user === owner) return;
  throw refuse(
    `${root} is ${owner}'s root, and the unit ${name} runs as ${user}: root does not put ${owner}'s settings (its Node, its boot-check) into a unit that runs as another account.`,
    `Name ${owner}'s own unit (release-switcher init --unit NAME, as ${owner}), or give the unit User=${owner}.`,
    { ...details, reason: 'unit-user', unitUser: user },
  );
}
