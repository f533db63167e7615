/**
 * The per-file manifest of a release (sha256, size, sealed mode; symlink targets), recorded at
 * staging in the release's marker file and re-verified before every activation.
 */
import { createHash } from 'node:crypto';
import { readlinkSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { RELEASE_MARKER } from './layout.js';
import { YIELD_EVERY, mapLimit, walkTree, yieldToLoop } from '../platform/tree.js';

export type ManifestEntry =
  | { path: string; type: 'file'; sha256: string; size: number; mode: number }
  | { path: string; type: 'link'; target: string }
  | { path: string; type: 'dir' };

/** What the marker file of a release holds. Its presence makes a directory under releases/ a release. */
export interface ReleaseMarker {
  layoutVersion: number;
  name: string;
  version: string;
  integrity: string | null;
  source: string;
  installedAt: string;
  node: { path: string; version: string };
  /** Whether every file and directory carries the immutable attribute once installed (see platform/immutable.ts). */
  immutable?: boolean;
  /** Bytes of all files (apparent size, before dedupe). */
  size: number;
  /** What was verified of the registry's signatures (absent: installed before signatures were checked). */
  signatures?: SignatureRecord;
  files: ManifestEntry[];
}

/**
 * `verified`: the registry publishes signing keys and the version's signature over name, version and
 * integrity checks out; `unsigned`: the registry publishes no keys, so nothing could be verified
 * (`--verify-signatures auto`); `skipped`: not checked (`never`, or a tarball that is no registry version).
 */
export type SignatureStatus = 'verified' | 'unsigned' | 'skipped';

export interface SignatureRecord {
  status: SignatureStatus;
  /** The version announces a provenance attestation (`dist.attestations.provenance`); recorded, not verified. */
  provenance: boolean;
  /** The registry whose keys were asked for. */
  registry?: string;
  /** Keys that signed it, when verified. */
  keyids?: string[];
  /** The same for the dependencies the fast path staged; `skipped` after a full npm install. */
  dependencies?: SignatureStatus;
}

/** Permission bits a sealed file keeps: no write bits, never setuid/setgid/sticky. */
export function sealedMode(mode: number): number {
  return mode & 0o555;
}

const HASH_PARALLELISM = 16;

export async function hashFile(file: string): Promise<string> {
  return createHash('sha256')
    .update(await fs.readFile(file))
    .digest('hex');
}

/** A file hashed earlier, reusable while its inode shows no change since. */
export interface KnownHash {
  ino: bigint;
  size: bigint;
  ctimeNs: bigint;
  sha256: string;
}

/**
 * Hash the files of a tree ahead of time (staging does this for the package's own files while npm
 * installs its dependencies). The inode is stat'ed before it is read, so any write after that moves
 * its ctime and the hash is not reused.
 */
export async function hashAhead(root: string, skip: (rel: string) => boolean): Promise<Map<string, KnownHash>> {
  const known = new Map<string, KnownHash>();
  const entries = (await walkTree(root, { skip })).filter((entry) => entry.dirent.isFile());
  await mapLimit(entries, HASH_PARALLELISM, async ({ rel, abs }) => {
    const stat = await fs.stat(abs, { bigint: true });
    known.set(rel, { ino: stat.ino, size: stat.size, ctimeNs: stat.ctimeNs, sha256: await hashFile(abs) });
  });
  return known;
}

/** Hash every file of a tree. Refuses anything but files, directories and symlinks inside the tree. */
export async function computeManifest(
  root: string,
  known: ReadonlyMap<string, KnownHash> = new Map(),
): Promise<ManifestEntry[]> {
  const entries = await walkTree(root, { skip: (rel) => rel === RELEASE_MARKER });
  const out: ManifestEntry[] = new Array(entries.length);
  const toHash: { index: number; abs: string }[] = [];
  // Synchronous stat and readlink (yielding now and then): most files were hashed as they were
  // written or linked, and tens of thousands of stats cost far less this way than as promises.
  for (let index = 0; index < entries.length; index++) {
    if (index % (4 * YIELD_EVERY) === 0) await yieldToLoop();
    const { rel, abs, dirent } = entries[index]!;
    if (dirent.isDirectory()) {
      out[index] = { path: rel, type: 'dir' };
      continue;
    }
    if (dirent.isSymbolicLink()) {
      const target = readlinkSync(abs);
      const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(rel), target));
      if (path.posix.isAbsolute(target) || resolved === '..' || resolved.startsWith('../')) {
        throw new ReleaseSwitcherError('RELEASE_UNSAFE', `${rel} is a symlink to ${target}, outside the release.`, {
          hint: 'A release must be self-contained: a dependency or lifecycle script linked outside it.',
        });
      }
      out[index] = { path: rel, type: 'link', target };
      continue;
    }
    if (!dirent.isFile()) {
      throw new ReleaseSwitcherError('BAD_TARBALL', `${rel} is neither a file, a directory nor a symlink.`, {
        hint: 'A release may not contain devices, sockets or fifos.',
      });
    }
    const stat = statSync(abs, { bigint: true });
    const earlier = known.get(rel);
    const unchanged =
      earlier && earlier.ino === stat.ino && earlier.size === stat.size && earlier.ctimeNs === stat.ctimeNs;
    out[index] = {
      path: rel,
      type: 'file',
      sha256: unchanged ? earlier.sha256 : '',
      size: Number(stat.size),
      mode: sealedMode(Number(stat.mode)),
    };
    if (!unchanged) toHash.push({ index, abs });
  }
  await mapLimit(toHash, HASH_PARALLELISM, async ({ index, abs }) => {
    (out[index] as Extract<ManifestEntry, { type: 'file' }>).sha256 = await hashFile(abs);
  });
  return out;
}

export function manifestSize(files: readonly ManifestEntry[]): number {
  return files.reduce((sum, entry) => sum + (entry.type === 'file' ? entry.size : 0), 0);
}

/**
 * Compare a release on disk with its manifest: same entries, same content, same sealed modes,
 * no write bits anywhere. Returns the differences (empty when intact).
 */
export async function diffAgainstManifest(root: string, files: readonly ManifestEntry[]): Promise<string[]> {
  const problems: string[] = [];
  if ((await fs.stat(root)).mode & 0o222) problems.push('.: directory is writable');
  const expected = new Map(files.map((entry) => [entry.path, entry]));
  const actual = await walkTree(root, { skip: (rel) => rel === RELEASE_MARKER });
  for (const { rel } of actual) if (!expected.has(rel)) problems.push(`${rel}: not in the manifest`);
  const present = new Set(actual.map((entry) => entry.rel));
  for (const entry of files) if (!present.has(entry.path)) problems.push(`${entry.path}: missing`);
  await mapLimit(actual, HASH_PARALLELISM, async ({ rel, abs, dirent }) => {
    const entry = expected.get(rel);
    if (!entry) return;
    const problem = await checkEntry(entry, { abs, isDir: dirent.isDirectory(), isLink: dirent.isSymbolicLink() });
    if (problem) problems.push(`${rel}: ${problem}`);
  });
  return problems.sort();
}

/** One entry against its manifest record, in full (a file is re-hashed); undefined when it matches. */
export interface FoundEntry {
  /** Where it is on disk. */
  abs: string;
  /** What the walk found there (lstat: a symlink is not followed). */
  isDir: boolean;
  isLink: boolean;
}

export async function checkEntry(entry: ManifestEntry, found: FoundEntry): Promise<string | undefined> {
  const { abs, isDir, isLink } = found;
  try {
    if (entry.type === 'dir') {
      if (!isDir) return 'expected a directory';
      const stat = await fs.stat(abs);
      return stat.mode & 0o222 ? 'directory is writable' : undefined;
    }
    if (entry.type === 'link') {
      if (!isLink) return 'expected a symlink';
      return (await fs.readlink(abs)) === entry.target ? undefined : 'symlink target changed';
    }
    if (isDir || isLink) return 'expected a file';
    const stat = await fs.stat(abs);
    if ((stat.mode & 0o7777) !== entry.mode)
      return `mode ${(stat.mode & 0o7777).toString(8)} is not ${entry.mode.toString(8)}`;
    if (stat.size !== entry.size) return 'size changed';
    return (await hashFile(abs)) === entry.sha256 ? undefined : 'content changed';
  } catch (error) {
    return `unreadable (${errnoOf(error) ?? String(error)})`;
  }
}
