/**
 * A rehearsal's private folder, when root rehearses for the service's account: the candidate runs as that account
 * (platform/run-as.ts), so what it must read and write (its copy of the state, its config file) becomes the account's,
 * and what it must not (the output log, the environment file its manager reads) stays root's. The folder is root's
 * (0700) while root fills it, so the account can neither see nor touch the copy until it has been handed over: the
 * hand-over walks children before their folder (a folder becomes the account's only once root is done inside it), and
 * never follows a link (lchown). Only then may the account's group pass through the folder (0710): it reaches `state/`
 * and `config.json` by name, and can list or change nothing else in it.
 *
 * The copy is removed by the account itself (the candidate may have left links in it: root walking a tree the account
 * can change would follow them), root then removes what is its own.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../model/errors.js';
import { emptyAsOwner, letAccountPass } from '../platform/handed-dir.js';
import { type RunAs, actsForAnother } from '../platform/run-as.js';

/** What the account may reach in a rehearsal's folder: the copy and the candidate's config file. */
const HANDED = ['state', 'config.json'];

/**
 * Hand the rehearsal's copy (`dir/state`) and config file to `who`, then let its group pass through `dir` and `workRoot`
 * (both root's, 0710). Nothing to do when the candidate runs as this process's own account.
 */
export async function handOverRehearsal(dir: string, workRoot: string, who: RunAs | undefined): Promise<void> {
  if (!actsForAnother(who)) return;
  for (const name of HANDED) await handTree(path.join(dir, name), who);
  for (const folder of [workRoot, dir]) await letAccountPass(folder, who);
}

/**
 * Hand one file root just wrote in the rehearsal's folder (the candidate's config file, rewritten for each try's port)
 * to `who`: lchown, no walk. Nothing to do for this process's own account.
 */
export async function handOverFile(file: string, who: RunAs | undefined): Promise<void> {
  if (actsForAnother(who)) await fs.lchown(file, who.uid, who.gid);
}

/** Post-order lchown: a folder is handed over after everything in it, so the account never holds one root walks. */
async function handTree(target: string, who: RunAs): Promise<void> {
  const stat = await fs.lstat(target).catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  });
  if (!stat) return;
  if (stat.isDirectory()) for (const name of await fs.readdir(target)) await handTree(path.join(target, name), who);
  await fs.lchown(target, who.uid, who.gid);
}

/**
 * Before root removes a rehearsal's folder: the account's part of it emptied by the account (the owner of `dir/state`,
 * read without following a link), then root's folder `dir` closed to it again (0700) so no path reaches it any more.
 * Quiet: what the account leaves (the emptied folder itself: it may not write `dir`), root's removal takes.
 */
export async function removeHandedOver(dir: string): Promise<void> {
  if (await emptyAsOwner(path.join(dir, 'state'))) await fs.chmod(dir, 0o700).catch(() => undefined);
}
