/**
 * releases/ is its owner's alone (0700), unless the service runs as another account (root acting for a system unit's
 * `User=openclaw`): then that account's group may pass through it (0710, group = the service's), so the service reaches
 * its release through `current` by name. It may not list releases/, nor write anything in it; a sealed release is 0555
 * throughout, so it reads and runs its own. Everything else under the root (state, config, snapshots, staging) stays
 * private to the owner.
 */
import fs from 'node:fs/promises';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { lookupAccount } from '../platform/accounts.js';
import { makePrivateDir } from '../platform/fs.js';
import { asPermissionDenied } from '../platform/permission.js';
import type { Config } from './config.js';
import type { Layout } from './layout.js';

export async function prepareReleasesDir(layout: Layout, config: Pick<Config, 'serviceUser'>): Promise<void> {
  const service = config.serviceUser === null ? undefined : lookupAccount(config.serviceUser);
  if (config.serviceUser !== null && !service)
    throw new ReleaseSwitcherError(
      'SERVICE_ACCOUNT_UNKNOWN',
      `The service's account ${config.serviceUser} (config serviceUser) does not exist here.`,
      { hint: 'Create it, or name the right one: release-switcher init --service-user ACCOUNT' },
    );
  if (!service || service.uid === process.getuid?.()) return makePrivateDir(layout.releases);
  await fs.mkdir(layout.releases, { recursive: true, mode: 0o700 });
  try {
    const stat = await fs.stat(layout.releases);
    if (stat.gid !== service.gid) await fs.chown(layout.releases, stat.uid, service.gid);
    if ((stat.mode & 0o777) !== 0o710) await fs.chmod(layout.releases, 0o710);
    // The root itself: passable (to current and releases/), its names not listed to anyone but its owner.
    const top = await fs.stat(layout.root);
    if ((top.mode & 0o077) !== 0o011) await fs.chmod(layout.root, (top.mode & 0o700) | 0o011);
  } catch (error) {
    // A normal account may give a folder only to a group it belongs to: say so, with the fix.
    if (errnoOf(error) === 'EPERM' || errnoOf(error) === 'EACCES')
      throw asPermissionDenied(
        error,
        `letting ${service.name} (the service's account) reach releases/`,
        layout.releases,
      );
    throw error;
  }
}
