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
 * Inodes found intact earlier in the same activation, through another release's names: the
 * releases of one root share most of their inodes (dedupe links), and an activation checks two of
 * them, the target, then the way back. Each fingerprint names its inode (`dev:ino:…`) and that
 * inode's state, ctime included.
 *
 * What a release's check proved is its whole list of fingerprints as they are now (the record's,
 * with those re-checked in full refreshed), kept by reference: nothing is done per entry to remember
 * it. The way back asks about its entry i; releases of one package mostly list the same paths in the
 * same order, so the target's entry i is looked at first (one string comparison). Where it differs
 * (a file the update changed, or paths that moved), a set of all the proven fingerprints is asked,
 * built once the misses are many: until then a miss costs its entry one lstat, much less than
 * building the set (tens of thousands of insertions).
 */
export class ProvenInodes {
  readonly #releases: { types: string; fingerprints: readonly string[] }[] = [];
  #all: Set<string> | undefined;
  #misses = 0;

  /** Misses answered without the set (each costs its entry one lstat) before the set is built. */
  static readonly MISSES_BEFORE_SET = 1024;

  /** A release (its manifest types and fingerprints, index by index) was just found intact. */
  add(types: string, fingerprints: readonly string[]): void {
    this.#releases.push({ types, fingerprints });
    this.#all = undefined;
    this.#misses = 0;
  }

  get size(): number {
    return this.#releases.length;
  }

  /** Whether the non-directory inode `fingerprint` (an entry at `index` of another release) was found intact. */
  has(fingerprint: string, index: number): boolean {
    if (fingerprint === '') return false; // not there when recorded: names nothing
    for (const { types, fingerprints } of this.#releases)
      if (fingerprints[index] === fingerprint && types.charCodeAt(index) !== 0x64) return true;
    if (!this.#all && ++this.#misses <= ProvenInodes.MISSES_BEFORE_SET) return false;
    if (!this.#all) {
      this.#all = new Set();
      for (const { types, fingerprints } of this.#releases) {
        for (let i = 0; i < fingerprints.length; i++)
          if (fingerprints[i] !== '' && types.charCodeAt(i) !== 0x64) this.#all.add(fingerprints[i]!);
      }
    }
    return this.#all.has(fingerprint);
  }
}

/**
 * `record`: the release's fingerprints, in manifest order (its paths and types are the manifest's:
 * the caller made sure the record belongs to the marker there now). `manifest`: the marker's
 * entries, read only when an entry has to be checked in full.
 *
 * `proven`: inodes already found intact in this activation. A non-directory entry whose recorded
 * fingerprint names such an inode, with the very same fingerprint, needs no lstat of its own when
 * its directory's fingerprint still matches: an unchanged directory had no name added, removed or
 * renamed in it (each moves its mtime and ctime), so the name still leads to that inode, and the
 * inode was just seen unchanged (its ctime included). The caller adds the release to it once the
 * whole check passed.
 */
export async function diffByFingerprints(
  root: string,
  record: CompactRecord,
  manifest: () => Promise<readonly ManifestEntry[]>,
  proven?: ProvenInodes,
): Promise<FastDiff> {
  const { paths, types, fingerprints: recorded } = record;
  const problems: string[] = [];
  if (fs.statSync(root).mode & 0o222) problems.push('.: directory is writable');
  problems.push(...(await extraEntries(root, '', new Set(paths.filter((rel) => !rel.includes('/'))))));
  const recheck: { index: number; abs: string; stat: BigIntStats }[] = [];
  const check = (index: number) => {
    const rel = paths[index]!;
    const abs = `${root}/${rel}`; // manifest paths are normalised and relative: no path.join per entry
    // Synchronous lstat: tens of thousands of cached inodes cost far less this way than as promises.
    const stat = fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false });
    if (!stat) return void problems.push(`${rel}: missing`);
    if (recorded[index] !== fingerprintOf(stat)) recheck.push({ index, abs, stat });
  };
  if (!proven || proven.size === 0) {
    for (let i = 0; i < paths.length; i++) check(i);
  } else {
    // Directories first, so that their verdict is known when their entries come.
    const unchangedDirs = new Set<string>();
    for (let i = 0; i < paths.length; i++) {
      if (types.charCodeAt(i) !== 0x64 /* d */) continue;
      const before = problems.length + recheck.length;
      check(i);
      if (problems.length + recheck.length === before) unchangedDirs.add(paths[i]!);
    }
    // Entries of one directory mostly come together: its verdict is looked up once for them.
    let dir = '';
    let dirUnchanged = false;
    for (let i = 0; i < paths.length; i++) {
      if (types.charCodeAt(i) === 0x64) continue;
      const rel = paths[i]!;
      const slash = rel.lastIndexOf('/');
      // Not at the top: the release root's own fingerprint is not recorded (its rename into releases/ moved it).
      if (slash > 0 && proven.has(recorded[i]!, i)) {
        if (slash !== dir.length || !rel.startsWith(dir)) {
          dir = rel.slice(0, slash);
          dirUnchanged = unchangedDirs.has(dir);
        }
        if (dirUnchanged) continue;
      }
      check(i);
    }
  }
  const refreshed = new Map<number, string>();
  if (recheck.length === 0) return { problems: problems.sort(), refreshed };
  // Something moved: only now is the manifest needed, for what each such entry must be.
  const files = await manifest();
  const byPath = new Map(files.map((entry) => [entry.path, entry]));
  const children = recheck.some(({ index }) => types[index] === 'd')
    ? childrenOf(files)
    : new Map<string, Set<string>>();
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
