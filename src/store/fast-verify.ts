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
import { type CompactRecord, fingerprintOf } from './fingerprints.js';
import { RELEASE_MARKER } from './layout.js';
import { type ManifestEntry, checkEntry } from './manifest.js';

const RECHECK_PARALLELISM = 16;

export interface FastDiff {
  problems: string[];
  /** Indexes of entries whose fingerprint moved but which are intact, with their fingerprint as of before the check. */
  refreshed: Map<number, string>;
}

/**
 * Fingerprints (each names its inode, `dev:ino:…`, and that inode's state) found intact earlier in
 * the same activation, through another release's names, as keys (the value is the same string).
 * The releases of one root share most of their inodes (dedupe links), and an activation checks two
 * of them: the target, then the way back. Keyed by the whole fingerprint, which the records hold
 * already: no string is cut per entry.
 */
export type ProvenInodes = Map<string, string>;

/**
 * `record`: the release's fingerprints, in manifest order (its paths and types are the manifest's:
 * the caller made sure the record belongs to the marker there now). `manifest`: the marker's
 * entries, read only when an entry has to be checked in full.
 *
 * `proven`: inodes already found intact in this activation. A non-directory entry whose recorded
 * fingerprint names such an inode, with the very same fingerprint, needs no lstat of its own when
 * its directory's fingerprint still matches: an unchanged directory had no name added, removed or
 * renamed in it (each moves its mtime and ctime), so the name still leads to that inode, and the
 * inode was just seen unchanged (its ctime included). Entries checked intact here are added to it.
 */
export async function diffByFingerprints(root: string, record: CompactRecord, manifest: () => Promise<readonly ManifestEntry[]>, proven?: ProvenInodes): Promise<FastDiff> {
  const { paths, types, fingerprints: recorded } = record;
  const problems: string[] = [];
  if (fs.statSync(root).mode & 0o222) problems.push('.: directory is writable');
  problems.push(...(await extraEntries(root, '', new Set(paths.filter((rel) => !rel.includes('/'))))));
  const recheck: { index: number; abs: string; stat: BigIntStats }[] = [];
  const unchangedDirs = new Set<string>();
  const check = (index: number) => {
    const rel = paths[index]!;
    const abs = `${root}/${rel}`; // manifest paths are normalised and relative: no path.join per entry
    // Synchronous lstat: tens of thousands of cached inodes cost far less this way than as promises.
    const stat = fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false });
    if (!stat) return void problems.push(`${rel}: missing`);
    const fingerprint = fingerprintOf(stat);
    if (recorded[index] !== fingerprint) return void recheck.push({ index, abs, stat });
    if (types.charCodeAt(index) === 0x64 /* d */) unchangedDirs.add(rel);
    else proven?.set(recorded[index]!, recorded[index]!);
  };
  // Directories first, so that their verdict is known when their entries come.
  for (let i = 0; i < paths.length; i++) if (types.charCodeAt(i) === 0x64) check(i);
  for (let i = 0; i < paths.length; i++) {
    if (types.charCodeAt(i) === 0x64) continue;
    if (proven && proven.size > 0) {
      const fingerprint = recorded[i]!;
      const rel = paths[i]!;
      const slash = rel.lastIndexOf('/');
      // Not at the top: the release root's own fingerprint is not recorded (its rename into releases/ moved it).
      if (fingerprint !== '' && slash > 0 && proven.has(fingerprint) && unchangedDirs.has(rel.slice(0, slash))) continue;
    }
    check(i);
  }
  const refreshed = new Map<number, string>();
  if (recheck.length === 0) return { problems: problems.sort(), refreshed };
  // Something moved: only now is the manifest needed, for what each such entry must be.
  const files = await manifest();
  const byPath = new Map(files.map((entry) => [entry.path, entry]));
  const children = recheck.some(({ index }) => types[index] === 'd') ? childrenOf(files) : new Map<string, Set<string>>();
  await mapLimit(recheck, RECHECK_PARALLELISM, async ({ index, abs, stat }) => {
    const rel = paths[index]!;
    const entry = byPath.get(rel);
    if (!entry) return void problems.push(`${rel}: not in the manifest`); // a record that does not belong to this marker
    const problem = await checkEntry(entry, { abs, isDir: stat.isDirectory(), isLink: stat.isSymbolicLink() });
    if (problem) return void problems.push(`${rel}: ${problem}`);
    if (entry.type === 'dir') {
      const extra = await extraEntries(root, rel, children.get(rel) ?? new Set());
      if (extra.length > 0) return void problems.push(...extra);
    }
    refreshed.set(index, fingerprintOf(stat));
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
