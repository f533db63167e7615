/**
 * Folders of root's own tree handed to the service's account for one piece of work (a database preflight's copies,
 * the plugins' prefetch, the capability review's copy): the account gets a folder of its own inside a folder of
 * root's that its group may only pass through (0710: it reaches names it knows, lists and changes nothing), and what
 * it leaves there is removed by the account itself before root removes the folder: root never walks a tree the
 * account can change under it (a sub-folder swapped for a link would make root's removal follow it).
 */
import fs from 'node:fs/promises';
import { errnoOf } from '../model/errors.js';
import { lookupAccount } from './accounts.js';
import { type RunAs, actsForAnother } from './run-as.js';
import { runCaptured } from './subprocess.js';

/**
 * Let `who`'s group pass through `folder` (one of root's own, e.g. `<root>/preflight`), to names it already knows:
 * 0710, group `who`'s; it lists and changes nothing there. Nothing to do for this process's own account.
 */
export async function letAccountPass(folder: string, who: RunAs | undefined): Promise<void> {
  if (!actsForAnother(who)) return;
  await fs.chown(folder, process.getuid?.() ?? 0, who.gid);
  await fs.chmod(folder, 0o710);
}

/**
 * Root, before it removes `target`, a folder it handed to another account: that account empties it first (`rm -rf` as
 * the folder's owner, read with lstat), so root never walks a tree the account can change under it. Whether it did.
 */
export async function emptyAsOwner(target: string): Promise<boolean> {
  const stat = await fs.lstat(target).catch(() => undefined);
  const me = process.getuid?.();
  if (!stat?.isDirectory() || me !== 0 || stat.uid === me) return false;
  const owner = lookupAccount(stat.uid);
  if (!owner) return false;
  // It may not remove the folder itself (root's parent): what it leaves is that empty folder.
  await runCaptured('/bin/rm', ['-rf', '--one-file-system', '--', target], {
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
    timeoutMs: 120_000,
    as: owner,
  });
  return true;
}

/**
 * A handed folder removed. One another account owns is emptied by that account, then root removes the empty folder
 * only (rmdir: nothing in it is walked or followed by root). Filled again meanwhile by the account, it is emptied
 * again a few times, then left to it: its own files in its own folder. Root's own folder: removed as it is.
 */
export async function removeHandedDir(dir: string): Promise<void> {
  for (let tries = 0; tries < 3; tries += 1) {
    if (!(await emptyAsOwner(dir))) return fs.rm(dir, { recursive: true, force: true });
    try {
      return await fs.rmdir(dir);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return;
      if (errnoOf(error) !== 'ENOTEMPTY' && errnoOf(error) !== 'EEXIST') throw error;
    }
  }
}
