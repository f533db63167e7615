/**
 * Commands run for the service run as the service's account: its uid, its gid and its supplementary groups (what a
 * unit's `User=` gives it), so nothing they write into its state is ever owned by the account that runs
 * release-switcher. Root acting for a service account gets there through util-linux's setpriv (an exec, no shell, no
 * PAM session and no environment of its own: the caller gives the whole environment, HOME included); an account
 * running for itself needs nothing.
 */
import fs from 'node:fs/promises';
import { ReleaseSwitcherError } from '../model/errors.js';

export interface RunAs {
  name: string;
  uid: number;
  gid: number;
}

const SETPRIV = '/usr/bin/setpriv';

/** Whether commands for `who` need to change account here: someone else than this process. */
export function actsForAnother(who: RunAs | undefined): who is RunAs {
  return who !== undefined && who.uid !== process.getuid?.();
}

/** `file args` as `who` would run it: unchanged for this process's own account, else through setpriv (root only). */
export function commandAs(file: string, args: readonly string[], who: RunAs | undefined): [string, string[]] {
  if (!actsForAnother(who)) return [file, [...args]];
  if (process.getuid?.() !== 0)
    throw new ReleaseSwitcherError(
      'PERMISSION_DENIED',
      `The service runs as ${who.name} (uid ${who.uid}); only root or ${who.name} itself may run its commands (${file}).`,
      {
        hint: `Run release-switcher as ${who.name} (sudo -u ${who.name} release-switcher …), or as root acting for it.`,
        details: { account: who.name, uid: who.uid },
      },
    );
  return [SETPRIV, ['--reuid', String(who.uid), '--regid', String(who.gid), '--init-groups', '--', file, ...args]];
}

/** A private folder (0700) for `who`'s commands to write in: made by us, handed to it when it is another account. */
export async function makeDirFor(dir: string, who: RunAs | undefined): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (actsForAnother(who)) await fs.chown(dir, who.uid, who.gid);
}
