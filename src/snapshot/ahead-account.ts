/**
 * The part of finalize-done-ahead (transaction/finalize-ahead-step.ts) that happens in the service's state folder,
 * with the rights of the state's account (state-side.ts runs it here or in a worker of ours as that account):
 * - `fingerprint`: what each entry of the live folder is now, by its metadata (type, size, mtime and ctime to the
 *   nanosecond, inode, mode, a link's target): taken when the copy is made and again after the stop, so any write in
 *   between (a rename, an append, a replaced file) shows; nothing is read, so it costs a walk.
 * - `digest`: what each entry of the ready copy holds, by content (sha256): before and after finalize ran on it, so
 *   its write set is what it changed, not what it touched.
 * - `swapIn`: the write set put in place by rename, one rename per entry, the live entry moved aside first.
 * - `removeAhead`: the ready copy and what was moved aside removed (their names checked: only ever ours).
 * A link is never followed: the walks use lstat, and a rename moves a link, not what it names. Each operation first
 * checks the folders it is handed (lstat, never followed): the live folder a real folder, the ready, aside and base
 * folders real folders of this account under our names, and every folder above an entry it renames a real one; a link
 * planted at any of them is refused (STATE_PATH_UNSAFE) before anything is read, written or moved. The check is the
 * clear answer; the bound is the kernel's: root acting for the account runs these as the account (state-side.ts), so a
 * link swapped in after the check leads only where the account itself may go.
 */
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { crashPoint } from '../platform/crashpoint.js';
import { fsyncDir, readRegularFileSync, removeTree } from '../platform/fs.js';
import { YIELD_EVERY, yieldToLoop } from '../platform/tree.js';
import { ResidueFilter } from './residue.js';
import { ASIDE_PREFIX, READY_PREFIX } from './swap-record.js';
import { ownFolder } from './swap-account.js';

/** Entries by their path relative to the folder (`/`-separated; a folder's ends in `/`), each with what it is. */
export type Entries = Record<string, string>;

/**
 * What a walk leaves out: residue (its patterns), and the entries kept out of the state (`kept`: relative paths, the
 * root's independent paths inside the folder, such as install-cli.sh's install in `~/.openclaw/tools`), which are
 * neither copied nor compared nor put in place (finalize sees the live ones, read-only: service/finalize.ts).
 */
export interface WalkFilter {
  residue: readonly string[];
  kept?: readonly string[] | undefined;
}

/** Walk `dir`: ours, residue and the kept entries left out; `describe` says what each file is. */
async function walk(
  dir: string,
  filter: WalkFilter,
  describe: (file: string, stat: import('node:fs').BigIntStats) => Promise<string>,
): Promise<Entries> {
  const residue = new ResidueFilter({ patterns: filter.residue });
  const kept = new Set(filter.kept ?? []);
  const out: Entries = {};
  // Stats and links read synchronously, a turn for the event loop every few hundred entries: a state with a plugin's
  // npm project is thousands of files, walked twice around the stop (copy.ts SYNC_COPY_MAX says what a promise each costs).
  let seen = 0;
  const go = async (at: string, rel: string): Promise<void> => {
    const names = readdirSync(at, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of names) {
      if (++seen % YIELD_EVERY === 0) await yieldToLoop();
      const relName = rel ? `${rel}/${entry.name}` : entry.name;
      if (!rel && (entry.name.startsWith(READY_PREFIX) || entry.name.startsWith(ASIDE_PREFIX))) continue;
      if (kept.has(relName) || residue.matches(relName, entry)) continue;
      const file = path.join(at, entry.name);
      const stat = lstatSync(file, { bigint: true, throwIfNoEntry: false });
      if (!stat) continue; // gone while walked: absent
      if (stat.isDirectory()) {
        out[`${relName}/`] = `d:${stat.mode}`;
        await go(file, relName);
      } else if (stat.isSymbolicLink()) out[relName] = `l:${readlinkSync(file)}`;
      else if (stat.isFile()) out[relName] = await describe(file, stat);
    }
  };
  await go(dir, '');
  return out;
}

/**
 * Refused unless `dir` is a real folder (lstat: a link at its name is not followed) and, when `own`, this account's:
 * `what` names it for the operator.
 */
async function realFolder(dir: string, what: string, own: boolean): Promise<void> {
  const stat = await fs.lstat(dir);
  if (stat.isDirectory() && (!own || stat.uid === process.getuid?.())) return;
  const is = stat.isSymbolicLink()
    ? `a symbolic link (to ${await fs.readlink(dir).catch(() => '?')})`
    : stat.isDirectory()
      ? `a folder of uid ${stat.uid}`
      : 'not a folder';
  throw new ReleaseSwitcherError(
    'STATE_PATH_UNSAFE',
    `${dir} is ${is}, where release-switcher expects ${what}: not followed, nothing read, written or moved there.`,
    { hint: `Look at ${dir} (it is not the service's state: remove it), then switch again.` },
  );
}

/** Refused unless `folder` is named as ours (ready or aside) right inside `live`. */
function oursIn(live: string, folder: string): void {
  const base = path.basename(folder);
  if (path.dirname(folder) !== live || !(base.startsWith(READY_PREFIX) || base.startsWith(ASIDE_PREFIX)))
    throw new ReleaseSwitcherError('STATE_PATH_UNSAFE', `${folder} is not a folder of release-switcher's in ${live}.`, {
      hint: 'This is a bug in release-switcher; please report it with release-switcher status --json.',
    });
}

/** The live folder's entries by metadata (nothing read). */
export async function fingerprint(dir: string, filter: WalkFilter): Promise<Entries> {
  await realFolder(dir, 'the state folder', false);
  return walk(dir, filter, async (_file, s) => `f:${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}:${s.mode}`);
}

/** Files up to this size are read at once for their digest; a larger one is streamed. */
const DIGEST_AT_ONCE = 1n << 20n;

/** The ready copy's entries by content. */
export async function digest(dir: string, filter: WalkFilter): Promise<Entries> {
  await realFolder(dir, 'its ready copy of the state (a folder of its own)', true);
  return walk(dir, filter, async (file, s) => {
    const hash = createHash('sha256');
    // At once when small (no link followed, no FIFO waited on: finalize, the account's, wrote this folder).
    const small = s.size <= DIGEST_AT_ONCE ? readRegularFileSync(file, Number(DIGEST_AT_ONCE)) : undefined;
    if (small) hash.update(small);
    else for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    return `f:${hash.digest('hex')}:${s.mode}`;
  });
}

/** A created folder's name (`a/b/`) or a file's (`a/b`), as the rename works on it (no trailing `/`). */
const bare = (rel: string) => (rel.endsWith('/') ? rel.slice(0, -1) : rel);

/**
 * The entries put in place: for each (a file, a link, or a folder finalize created or replaced whole), the live one
 * (when there is one) renamed into `aside`, then the ready one (when there is one: finalize may have removed it)
 * renamed into its place; a missing parent folder is made with the ready one's mode. Returns the entries it moved (in,
 * or aside only: finalize removed them).
 */
export async function swapIn(
  live: string,
  ready: string,
  aside: string,
  entries: readonly string[],
): Promise<string[]> {
  await readyToSwap(live, ready, aside, entries);
  const moved: string[] = [];
  for (const entry of entries.map(bare)) {
    const from = path.join(ready, entry);
    const to = path.join(live, entry);
    await noLinkAbove(ready, entry); // again: the account may have planted one since
    await parentsOf(live, entry, ready);
    await parentsOf(aside, entry, ready);
    const asideNow = await fs.rename(to, path.join(aside, entry)).then(
      () => true,
      (error: unknown) => {
        if (errnoOf(error) !== 'ENOENT') throw error;
        return false;
      },
    );
    crashPoint('ahead:swap-between');
    const there = await fs.lstat(from).catch(() => undefined);
    if (there) await fs.rename(from, to);
    if (there || asideNow) moved.push(entry);
    await fsyncDir(path.dirname(to));
  }
  return moved;
}

/**
 * The swap's folders checked before anything moves (swapIn does it first; the window asks on its own to tell a refusal
 * that moved nothing from a swap cut halfway): ours by name, real, the aside one made, and no link above any entry.
 */
export async function readyToSwap(
  live: string,
  ready: string,
  aside: string,
  entries: readonly string[],
): Promise<void> {
  for (const folder of [ready, aside]) oursIn(live, folder);
  await realFolder(live, 'the state folder', false);
  await realFolder(ready, 'its ready copy of the state (a folder of its own)', true);
  await ownFolder(aside);
  for (const entry of entries.map(bare)) for (const under of [ready, live, aside]) await noLinkAbove(under, entry);
}

/** `entry`'s parent folders under `under` (as far as they exist) real folders: a link among them is refused. */
async function noLinkAbove(under: string, entry: string): Promise<void> {
  const parts = entry.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const at = path.join(under, ...parts.slice(0, i));
    if (!(await fs.lstat(at).catch(() => undefined))) return; // absent: nothing below it to move
    await realFolder(at, `a folder of ${under}`, false);
  }
}

/** `entry`'s parent folders under `under`, made where missing (each with the mode the ready copy gives it). */
async function parentsOf(under: string, entry: string, ready: string): Promise<void> {
  const parts = entry.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join('/');
    const at = path.join(under, rel);
    const stat = await fs.lstat(at).catch(() => undefined);
    if (stat?.isDirectory()) continue;
    if (stat)
      throw new ReleaseSwitcherError('STATE_PATH_UNSAFE', `${at} is not a folder: ${entry} is not put there.`, {
        hint: `Look at ${at}; the update ran its finalize in the window instead.`,
      });
    const mode = (await fs.lstat(path.join(ready, rel)).catch(() => undefined))?.mode ?? 0o700;
    await fs.mkdir(at, { mode: mode & 0o7777 });
  }
}

/**
 * The ready copy and the aside folder removed (only folders of ours by their names, in `live`, which must be a real
 * folder). Nothing is followed: a link found under our name or inside them is removed as a link, what it names stays.
 */
export async function removeAhead(live: string, folders: readonly string[]): Promise<void> {
  await realFolder(live, 'the state folder', false);
  for (const folder of folders) {
    const base = path.basename(folder);
    if (path.dirname(folder) !== live) continue;
    if (!base.startsWith(READY_PREFIX) && !base.startsWith(ASIDE_PREFIX)) continue;
    await removeTree(folder);
  }
}

/**
 * A folder of ours for the copy (the ready one, the databases' base beside it), made by the account in the state
 * folder: one left by an earlier try removed first; a link or another's folder under the name is refused, left as it
 * is and never followed.
 */
export async function makeAheadFolder(folder: string): Promise<void> {
  const live = path.dirname(folder);
  oursIn(live, folder);
  await realFolder(live, 'the state folder', false);
  if (await fs.lstat(folder).catch(() => undefined)) {
    await realFolder(folder, 'a folder of its own', true);
    await removeTree(folder);
  }
  await ownFolder(folder);
}
