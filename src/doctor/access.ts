/**
 * doctor's checks of who may do what: the service's account (a system unit's `User=`, when it is not the root's owner)
 * can reach and read the release `current` names, and the boot-check can write the root where the unit runs it.
 * Root asks as that account (setpriv, test -r); another account can only tell from the modes on the way.
 */
import path from 'node:path';
import { lookupAccount } from '../platform/accounts.js';
import { actsForAnother } from '../platform/run-as.js';
import { run } from '../platform/subprocess.js';
import { systemctl } from '../service/systemctl.js';
import { actsForServiceAccount } from '../unit-files/unit-text.js';
import type { CheckContext, CheckResult } from './checks.js';

const TIMEOUT_MS = 15_000;

/** The service's account reads `current/package.json`: every folder on the way lets it through. */
export async function serviceReadsCurrent(ctx: CheckContext): Promise<CheckResult | null> {
  const name = ctx.config.serviceUser;
  if (name === null) return null;
  const account = lookupAccount(name);
  if (!account)
    return { name: 'service-access', ok: false, detail: `the service's account ${name} does not exist here` };
  if (!actsForAnother(account) || process.getuid?.() !== 0) return null; // only root can ask as another account
  const file = path.join(ctx.layout.current, 'package.json');
  const probe = await run('/usr/bin/test', ['-r', file], {
    env: ctx.env,
    signal: ctx.signal,
    timeoutMs: TIMEOUT_MS,
    as: account,
  });
  return probe.exitCode === 0
    ? { name: 'service-access', ok: true, detail: `${name} can read ${file}` }
    : {
        name: 'service-access',
        ok: false,
        detail: `${name} (the service's account) cannot read ${file}: a folder on the way is closed to it. Fix: put the root where ${name} may pass (not under /root), e.g. /var/lib/release-switcher/<app>, or chmod o+x the folders above ${ctx.layout.root}`,
      };
}

/**
 * A sandboxed system unit (ProtectSystem=strict or full, ProtectHome=) whose boot-check runs as its own account must
 * have the root in ReadWritePaths=, or its boot-check can neither count starts nor take checkpoints.
 */
export async function bootCheckCanWrite(ctx: CheckContext): Promise<CheckResult | null> {
  const { config, layout } = ctx;
  if (config.supervisor !== 'systemd-system' || !config.unit) return null;
  const shown = await systemctl(
    [
      'show',
      config.unit,
      '--property=ProtectSystem',
      '--property=ProtectHome',
      '--property=ReadWritePaths',
      '--property=ExecStartPre',
      '--property=ExecStartPreEx',
    ],
    { scope: 'system', env: ctx.env, signal: ctx.signal, timeoutMs: TIMEOUT_MS },
  );
  if (shown.exitCode !== 0) return null;
  const prop = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(shown.output)?.[1] ?? '';
  const sandboxed =
    ['strict', 'full', 'yes'].includes(prop('ProtectSystem')) ||
    ['yes', 'read-only', 'tmpfs'].includes(prop('ProtectHome'));
  if (!sandboxed) return null;
  // A privileged (`+`) command is not bound by the sandbox. ExecStartPre= never shows the `+` (systemd 252); its Ex form
  // does: `{ path=… ; argv[]=… boot-check ; flags=ignore-failure privileged ; … }`. A systemd before 243 has no Ex
  // form: then what our unit text gives the root (a `+` where root acts for the service's account).
  const ex = prop('ExecStartPreEx');
  const privileged = ex
    ? ex.split(/(?=\{ path=)/).some((command) => /boot-check/.test(command) && /flags=[^;}]*privileged/.test(command))
    : actsForServiceAccount(config, layout.root);
  if (privileged)
    return {
      name: 'boot-check-writes',
      ok: true,
      detail: 'the boot-check runs privileged (ExecStartPre=+), outside the sandbox',
    };
  const writable = prop('ReadWritePaths')
    .split(/\s+/)
    .map((p) => p.replace(/^-/, ''))
    .filter(Boolean);
  const root = layout.root;
  const covered = writable.some((p) => root === p || root.startsWith(`${p.replace(/\/$/, '')}/`));
  return covered
    ? { name: 'boot-check-writes', ok: true, detail: `${root} is in the unit's ReadWritePaths=` }
    : {
        name: 'boot-check-writes',
        ok: false,
        detail: `${config.unit} is sandboxed (ProtectSystem=${prop('ProtectSystem') || 'no'}, ProtectHome=${prop('ProtectHome') || 'no'}) and ${root} is not in its ReadWritePaths=: the boot-check cannot write it. Fix: release-switcher unit --install (adds ReadWritePaths=-${root})`,
      };
}
