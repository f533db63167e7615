/**
 * Comparing a sealed release with its manifest through stat fingerprints (see fingerprints.ts):
 * one lstat per entry, a full check (re-hash) only where a fingerprint moved. Directories count
 * too: adding, removing or renaming an entry moves the directory's ctime, so an unchanged
 * directory needs no readdir; the release root (whose ctime its rename into releases/ moved) is
 * read every time.
 */
import type { BigIntStats } from 'node:fs';
import fs from 'node:fs';
import path from 'node:path';
import { errnoOf } from '../model/errors.js';
import { mapLimit } from '../platform/tree.js';
import { fingerprintOf, inodeOf } from './fingerprints.js';
import { RELEASE_MARKER } from './layout.js';
import { type ManifestEntry, checkEntry } from './manifest.js';

const RECHECK_PARALLELISM = 16;

export interface FastDiff {
  problems: string[];
  /** Entries whose fingerprint moved but which are intact: their fingerprint as of before the check. */
  refreshed: Map<string, string>;
}

/**
 * Inodes (`dev:ino` → fingerprint) found intact earlier in the same activation, through another
 * release's names. The releases of one root share most of their inodes (dedupe links), and an
 * activation checks two of them: the target, then the way back.
 */
export type ProvenInodes = Map<string, string>;

/**
 * `proven`: inodes already found intact in this activation. A non-directory entry whose recorded
 * fingerprint names such an inode, with the very same fingerprint, needs no lstat of its own when
 * its directory's fingerprint still matches: an unchanged directory had no name added, removed or
 * renamed in it (each moves its mtime and ctime), so the name still leads to that inode, and the
 * inode was just seen unchanged (its ctime included). Entries checked intact here are added to it.
 */
export async function diffByFingerprints(root: string, files: readonly ManifestEntry[], recorded: Readonly<Record<string, string>>, proven?: ProvenInodes): Promise<FastDiff> {
  const problems: string[] = [];
  if (fs.statSync(root).mode & 0o222) problems.push('.: directory is writable');
  problems.push(...(await extraEntries(root, '', new Set(files.filter((entry) => !entry.path.includes('/')).map((entry) => entry.path)))));
  const recheck: { entry: ManifestEntry; abs: string; stat: BigIntStats }[] = [];
  const unchangedDirs = new Set<string>();
  const check = (entry: ManifestEntry) => {
    const abs = `${root}/${entry.path}`; // manifest paths are normalised and relative: no path.join per entry
    // Synchronous lstat: tens of thousands of cached inodes cost far less this way than as promises.
    const stat = fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false });
    if (!stat) return void problems.push(`${entry.path}: missing`);
    const fingerprint = fingerprintOf(stat);
    if (recorded[entry.path] !== fingerprint) return void recheck.push({ entry, abs, stat });
    if (entry.type === 'dir') unchangedDirs.add(entry.path);
    else proven?.set(inodeOf(fingerprint), fingerprint);
  };
  // Directories first, so that their verdict is known when their entries come.
  for (const entry of files) if (entry.type === 'dir') check(entry);
  for (const entry of files) {
    if (entry.type === 'dir') continue;
    const fingerprint = recorded[entry.path];
    const slash = entry.path.lastIndexOf('/');
    // Not at the top: the release root's own fingerprint is not recorded (its rename into releases/ moved it).
    const seen = fingerprint !== undefined && slash > 0 && proven?.get(inodeOf(fingerprint)) === fingerprint && unchangedDirs.has(entry.path.slice(0, slash));
    if (!seen) check(entry);
  }
  const refreshed = new Map<string, string>();
  const children = recheck.some(({ entry }) => entry.type === 'dir') ? childrenOf(files) : new Map<string, Set<string>>();
  await mapLimit(recheck, RECHECK_PARALLELISM, async ({ entry, abs, stat }) => {
    const problem = await checkEntry(entry, { abs, isDir: stat.isDirectory(), isLink: stat.isSymbolicLink() });
    if (problem) return void problems.push(`${entry.path}: ${problem}`);
    if (entry.type === 'dir') {
      const extra = await extraEntries(root, entry.path, children.get(entry.path) ?? new Set());
      if (extra.length > 0) return void problems.push(...extra);
    }
    refreshed.set(entry.path, fingerprintOf(stat));
  });
  return { problems: problems.sort(), refreshed };
}

/** Expected names per directory ('' is the release root). */
function childrenOf(files: readonly ManifestEntry[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const { path: rel } of files) {
    const dir = path.posix.dirname(rel);
    const key = dir === '.' ? '' : dir;
    if (!out.has(key)) out.set(key, new Set());
    out.get(key)!.add(path.posix.basename(rel));
  }
  return out;
}

async function extraEntries(root: string, dir: string, expected: ReadonlySet<string>): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(path.join(root, dir));
  } catch (error) {
    return [`${dir || '.'}: unreadable (${errnoOf(error) ?? String(error)})`];
  }
  return names
    .filter((name) => !expected.has(name) && !(dir === '' && name === RELEASE_MARKER))
    .map((name) => `${dir ? `${dir}/` : ''}${name}: not in the manifest`);
}
