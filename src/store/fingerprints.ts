/**
 * Stat fingerprints of a sealed release, so activation need not re-hash it. Recorded outside the
 * release (`<root>/fingerprints/<version>.json`) because the release is sealed (read-only, perhaps
 * immutable) by the time the last step that moves a ctime is done, and because a later install
 * refreshes it after linking into this release's inodes.
 *
 * Why ctime: size and mtime can be put back with utimes(2); the inode change time cannot be set from
 * user space, and every write, chmod, chattr, link and unlink moves it. A fingerprint that still
 * matches means the inode was not touched since it was recorded; one that does not match is not a
 * verdict: that entry alone is re-checked in full (re-hashed), and if intact its fingerprint is
 * refreshed. So our own ctime-moving steps (dedupe links, prune's unlinks) cost one re-hash of the
 * files they touched, never a false alarm, and tampering is always caught.
 */
import { createHash } from 'node:crypto';
import { type BigIntStats, lstatSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../model/errors.js';
import { readJsonIfExists, writeFileAtomic } from '../platform/fs.js';
import { YIELD_EVERY, walkTree, yieldToLoop } from '../platform/tree.js';
import { type Layout, RELEASE_MARKER, isValidVersion } from './layout.js';

/** Bumped if the record's shape changes; an unknown version is ignored (full re-hash). */
const RECORD_VERSION = 1;

export interface FingerprintRecord {
  recordVersion: number;
  /** sha256 of the marker file the fingerprints were taken against: a changed marker voids them. */
  markerSha256: string;
  /** Relative path → `dev:ino:size:mtimeNs:ctimeNs:mode` (compact: 40k entries stay a few MB). */
  entries: Record<string, string>;
}

export function fingerprintOf(stat: BigIntStats): string {
  return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}:${stat.mode}`;
}

/** The inode a fingerprint names (`dev:ino`). */
export function inodeOf(fingerprint: string): string {
  // Once per entry of a release in an activation: one slice, not a split and a join.
  return fingerprint.slice(0, fingerprint.indexOf(':', fingerprint.indexOf(':') + 1));
}

export function sha256Of(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Fingerprint every entry of a sealed tree (files, symlinks, directories; not the tree root, whose
 * ctime its rename into releases/ moves, nor the marker). Call it after the LAST step that changes
 * an inode of the tree (dedupe links, chmod, chattr).
 */
export async function recordFingerprints(layout: Layout, version: string, dir: string): Promise<void> {
  const markerSha256 = sha256Of(await fs.readFile(path.join(dir, RELEASE_MARKER)));
  const entries: Record<string, string> = {};
  // Synchronous lstat: tens of thousands of cached inodes cost far less this way than as promises.
  let count = 0;
  for (const { rel, abs } of await walkTree(dir, { skip: (rel) => rel === RELEASE_MARKER })) {
    if (++count % (4 * YIELD_EVERY) === 0) await yieldToLoop();
    entries[rel] = fingerprintOf(lstatSync(abs, { bigint: true }));
  }
  await writeRecord(layout, version, { recordVersion: RECORD_VERSION, markerSha256, entries });
}

export async function readFingerprints(layout: Layout, version: string): Promise<FingerprintRecord | undefined> {
  try {
    const record = (await readJsonIfExists(layout.fingerprints(version))) as FingerprintRecord | undefined;
    return record?.recordVersion === RECORD_VERSION && record.entries && typeof record.entries === 'object' ? record : undefined;
  } catch {
    return undefined; // unreadable: as if absent, the full re-hash decides
  }
}

export async function writeRecord(layout: Layout, version: string, record: FingerprintRecord): Promise<void> {
  await fs.mkdir(path.dirname(layout.fingerprints(version)), { recursive: true });
  await writeFileAtomic(layout.fingerprints(version), `${JSON.stringify(record)}\n`);
}

export async function removeFingerprints(layout: Layout, version: string): Promise<void> {
  await fs.rm(layout.fingerprints(version), { force: true });
}

/**
 * Entries of `fingerprints/` that belong to no release: the record of a release whose directory is
 * gone (a prune killed between removing the release and its record), a temp file of a killed atomic
 * write, anything else. Names relative to `fingerprints/`.
 */
export async function orphanedFingerprints(layout: Layout): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(layout.fingerprintsDir);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return [];
    throw error;
  }
  const orphans: string[] = [];
  for (const name of names.sort()) {
    const version = name.endsWith('.json') ? name.slice(0, -'.json'.length) : '';
    const release = isValidVersion(version) ? await fs.lstat(layout.release(version)).catch(() => undefined) : undefined;
    if (!release?.isDirectory()) orphans.push(name);
  }
  return orphans;
}

/** Remove what orphanedFingerprints found (names relative to `fingerprints/`). */
export async function removeOrphanedFingerprints(layout: Layout, names: readonly string[]): Promise<void> {
  for (const name of names) await fs.rm(path.join(layout.fingerprintsDir, path.basename(name)), { force: true, recursive: true });
}

/** Inodes linked to by a new release: one of their names, and their state before the first link. */
export interface LinkedInode {
  source: string;
  before: BigIntStats;
}

/**
 * After a new release linked into earlier releases' inodes (which moves their ctime), carry the
 * fingerprints of those releases forward: only where the recorded fingerprint equals the state just
 * before the first link, so a file tampered with earlier is not blessed by the refresh.
 */
export async function refreshAfterLinks(layout: Layout, versions: readonly string[], linked: ReadonlyMap<string, LinkedInode>): Promise<void> {
  if (linked.size === 0) return;
  for (const version of versions) {
    const record = await readFingerprints(layout, version);
    if (!record) continue;
    let changed = false;
    for (const [rel, fingerprint] of Object.entries(record.entries)) {
      const inode = linked.get(inodeOf(fingerprint));
      const after = inode && fingerprint === fingerprintOf(inode.before) ? lstatIfExistsSync(inode.source) : undefined;
      if (after) {
        record.entries[rel] = fingerprintOf(after);
        changed = true;
      }
    }
    if (changed) await writeRecord(layout, version, record);
  }
}

function lstatIfExistsSync(abs: string): BigIntStats | undefined {
  try {
    return lstatSync(abs, { bigint: true });
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** lstat, or undefined when the entry is gone. */
export async function lstatIfExists(abs: string): Promise<BigIntStats | undefined> {
  try {
    return await fs.lstat(abs, { bigint: true });
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return undefined;
    throw error;
  }
}
