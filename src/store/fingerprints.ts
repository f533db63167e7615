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
import { makePrivateDir, writeFileAtomic } from '../platform/fs.js';
import { YIELD_EVERY, yieldToLoop } from '../platform/tree.js';
import { type Layout, RELEASE_MARKER, isValidVersion } from './layout.js';
import type { ReleaseMarker } from './manifest.js';

/**
 * Bumped if the record's shape changes; a record of another version (or one that fails its own
 * checksum, or is not one at all) is ignored: the release is re-hashed in full, and recorded anew.
 * 1: JSON `{entries: {path: fingerprint}}` keyed by path, which activation could only use after
 * parsing the whole manifest too. 2: the manifest's paths and types in manifest order beside their
 * fingerprints, the marker's own fingerprint, and a sha256 of the body, so an activation whose
 * fingerprints all match reads neither the manifest nor an object of 40k keys.
 */
export const RECORD_VERSION = 2;

/**
 * A release's fingerprints, as activation reads them: index i of `paths`, `types` and
 * `fingerprints` is the marker's manifest entry i.
 */
export interface CompactRecord {
  /** sha256 of the marker file the fingerprints were taken against: a changed marker voids them. */
  markerSha256: string;
  /** The marker file's own fingerprint when it was hashed: while it matches, the marker need not be read. */
  marker: string;
  /** The manifest's paths, in its order. */
  paths: string[];
  /** One letter per entry, the manifest's type: `d` directory, `f` file, `l` symlink. */
  types: string;
  /** `dev:ino:size:mtimeNs:ctimeNs:mode` per entry; empty when the entry was not there to stat. */
  fingerprints: string[];
}

/** The record as a map (tests, and whoever wants one entry): path → fingerprint. */
export interface FingerprintRecord {
  recordVersion: number;
  markerSha256: string;
  entries: Record<string, string>;
}

export function fingerprintOf(stat: BigIntStats): string {
  return `${decimal(stat.dev, 0)}:${stat.ino}:${stat.size}:${decimal(stat.mtimeNs, 1)}:${decimal(stat.ctimeNs, 2)}:${decimal(stat.mode, 3)}`;
}

// The entries of a release mostly come in runs that share their dev, mode, mtime (npm packs every
// file with one date) and ctime (sealing touches them one after another): the decimal of a 19-digit
// BigInt is the dear part of a fingerprint, so the last one of each field is kept. Measured over the
// 42,801 entries of the activation benchmark: 37-52 -> 26-33 ms per pass.
const lastValue: bigint[] = [-1n, -1n, -1n, -1n];
const lastText: string[] = ['', '', '', ''];
function decimal(value: bigint, field: number): string {
  if (value !== lastValue[field]) {
    lastValue[field] = value;
    lastText[field] = String(value);
  }
  return lastText[field]!;
}

/** The inode a fingerprint names (`dev:ino`). */
export function inodeOf(fingerprint: string): string {
  // Once per entry of a release in an activation: one slice, not a split and a join.
  return fingerprint.slice(0, fingerprint.indexOf(':', fingerprint.indexOf(':') + 1));
}

/** Fingerprints by their inode (`dev:ino`); '' (an entry that was not there) left out. */
export function byInode(fingerprints: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const fingerprint of fingerprints) if (fingerprint) out.set(inodeOf(fingerprint), fingerprint);
  return out;
}

export function sha256Of(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

const TYPE_LETTER = { dir: 'd', file: 'f', link: 'l' } as const;

/**
 * Fingerprint every entry of a sealed release's manifest (files, symlinks, directories; not the
 * release root, whose ctime its rename into releases/ moves, nor the marker, which is fingerprinted
 * apart). Call it after the LAST step that changes an inode of the tree (dedupe links, chmod, chattr).
 * Each inode is stat'ed before anything is read of it (the marker before it is hashed), so a change
 * after that moves its ctime and shows.
 */
export async function recordFingerprints(
  layout: Layout,
  version: string,
  dir: string,
  /** Entries recorded as not seen (''): their content is someone else's word (the store's), checked in full once. */
  unproven: ReadonlySet<string> = new Set(),
  /** The entries' fingerprints as the caller took them (statEntries) once nothing moves them any more, in the marker's order. */
  taken?: readonly string[],
): Promise<void> {
  const markerFile = path.join(dir, RELEASE_MARKER);
  const markerStat = await fs.lstat(markerFile, { bigint: true });
  const text = await fs.readFile(markerFile);
  const marker = JSON.parse(text.toString('utf8')) as ReleaseMarker;
  const fingerprints =
    taken?.length === marker.files.length
      ? [...taken]
      : await statEntries(
          dir,
          marker.files.map((entry) => entry.path),
        );
  if (unproven.size > 0)
    for (let i = 0; i < marker.files.length; i++) if (unproven.has(marker.files[i]!.path)) fingerprints[i] = '';
  await writeRecord(layout, version, recordOf(marker, text, fingerprintOf(markerStat), fingerprints));
}

/** A record of `marker` (whose bytes are `text`), with fingerprints taken before anything was read of the tree. */
export function recordOf(
  marker: ReleaseMarker,
  text: Buffer,
  markerFingerprint: string,
  fingerprints: string[],
): CompactRecord {
  return {
    markerSha256: sha256Of(text),
    marker: markerFingerprint,
    paths: marker.files.map((entry) => entry.path),
    types: typesOf(marker.files),
    fingerprints,
  };
}

/** The record's `types`: one letter per manifest entry. */
export function typesOf(files: ReleaseMarker['files']): string {
  return files.map((entry) => TYPE_LETTER[entry.type] ?? '?').join('');
}

/** The fingerprint of each of `rels` below `dir` ('' for one that is not there). */
export async function statEntries(dir: string, rels: readonly string[]): Promise<string[]> {
  // Synchronous lstat: tens of thousands of cached inodes cost far less this way than as promises
  // (measured under load: 1.2 s against 3.0 s for 41k), with a pause now and then for the event loop.
  const fingerprints: string[] = [];
  for (let i = 0; i < rels.length; i++) {
    if (i > 0 && i % (4 * YIELD_EVERY) === 0) await yieldToLoop();
    const stat = lstatIfExistsSync(`${dir}/${rels[i]}`);
    fingerprints.push(stat ? fingerprintOf(stat) : '');
  }
  return fingerprints;
}

// The file: `{"recordVersion":2,"sha256":"<sha256 of BODY>","body":BODY}` and a newline, BODY being
// the JSON of a CompactRecord. The checksum is over BODY's bytes as they lie in the file, so a
// record is checked without serialising anything again.
const HEAD = `{"recordVersion":${RECORD_VERSION},"sha256":"`;
const BODY_AT = HEAD.length + 64 + '","body":'.length;

function serialise(record: CompactRecord): string {
  const body = JSON.stringify({
    markerSha256: record.markerSha256,
    marker: record.marker,
    paths: record.paths,
    types: record.types,
    fingerprints: record.fingerprints,
  });
  return `${HEAD}${sha256Of(body)}","body":${body}}\n`;
}

/** The record in a file's bytes; undefined for anything else (another version, a failed checksum, a wrong shape). */
export function parseRecord(bytes: Buffer): CompactRecord | undefined {
  if (
    bytes.length < BODY_AT + 2 ||
    bytes.toString('latin1', 0, HEAD.length) !== HEAD ||
    bytes.toString('latin1', HEAD.length + 64, BODY_AT) !== '","body":'
  )
    return undefined;
  const end = bytes.length - (bytes[bytes.length - 1] === 0x0a ? 2 : 1);
  if (bytes[end] !== 0x7d) return undefined; // the closing brace of the whole
  const body = bytes.subarray(BODY_AT, end);
  if (sha256Of(body) !== bytes.toString('latin1', HEAD.length, HEAD.length + 64)) return undefined;
  let record: CompactRecord;
  try {
    record = JSON.parse(body.toString('utf8')) as CompactRecord;
  } catch {
    return undefined;
  }
  const { markerSha256, marker, paths, types, fingerprints } = record ?? ({} as CompactRecord);
  const strings = (list: unknown): list is string[] =>
    Array.isArray(list) && list.every((item) => typeof item === 'string');
  if (
    typeof markerSha256 !== 'string' ||
    typeof marker !== 'string' ||
    typeof types !== 'string' ||
    !strings(paths) ||
    !strings(fingerprints)
  )
    return undefined;
  if (paths.length !== fingerprints.length || types.length !== paths.length || /[^dfl]/.test(types)) return undefined;
  return record;
}

/** The release's record; undefined when there is none or it cannot be used (the full re-hash decides). */
export async function readRecord(layout: Layout, version: string): Promise<CompactRecord | undefined> {
  try {
    return parseRecord(await fs.readFile(layout.fingerprints(version)));
  } catch {
    return undefined; // absent or unreadable: as if absent
  }
}

/** The record as a map of path → fingerprint; undefined as readRecord. */
export async function readFingerprints(layout: Layout, version: string): Promise<FingerprintRecord | undefined> {
  const record = await readRecord(layout, version);
  if (!record) return undefined;
  const entries: Record<string, string> = {};
  record.paths.forEach((rel, i) => {
    entries[rel] = record.fingerprints[i]!;
  });
  return { recordVersion: RECORD_VERSION, markerSha256: record.markerSha256, entries };
}

export async function writeRecord(layout: Layout, version: string, record: CompactRecord): Promise<void> {
  await makePrivateDir(layout.fingerprintsDir);
  await writeFileAtomic(layout.fingerprints(version), serialise(record));
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
    const release = isValidVersion(version)
      ? await fs.lstat(layout.release(version)).catch(() => undefined)
      : undefined;
    if (!release?.isDirectory()) orphans.push(name);
  }
  return orphans;
}

/** Remove what orphanedFingerprints found (names relative to `fingerprints/`). */
export async function removeOrphanedFingerprints(layout: Layout, names: readonly string[]): Promise<void> {
  for (const name of names)
    await fs.rm(path.join(layout.fingerprintsDir, path.basename(name)), { force: true, recursive: true });
}

/** Inodes linked to by a new release: one of their names, and their state before the first link. */
export interface LinkedInode {
  source: string;
  before: BigIntStats;
}

/**
 * After a new release linked into earlier releases' inodes (which moves their ctime), carry the
 * fingerprints of those releases forward: only where the recorded fingerprint equals the state just
 * before the first link, so a file tampered with earlier is not blessed by the refresh. `now`: the
 * inodes' fingerprints as the new release's record has them (by inode: a fingerprint is the inode's state,
 * whichever name it was taken by), so that only an inode it no longer names is stat'ed again.
 */
export async function refreshAfterLinks(
  layout: Layout,
  versions: readonly string[],
  linked: ReadonlyMap<string, LinkedInode>,
  now: ReadonlyMap<string, string> = new Map(),
): Promise<void> {
  if (linked.size === 0) return;
  // Each inode's state before the links, as a fingerprint once (a BigInt's decimal is the dear part).
  const before = new Map<string, string>();
  for (const [inode, { before: stat }] of linked) before.set(inode, fingerprintOf(stat));
  const after = (inode: string): string | undefined => {
    const known = now.get(inode);
    if (known !== undefined) return known;
    const stat = lstatIfExistsSync(linked.get(inode)!.source);
    return stat && fingerprintOf(stat);
  };
  for (const version of versions) {
    const record = await readRecord(layout, version);
    if (!record) continue;
    let changed = false;
    for (let i = 0; i < record.fingerprints.length; i++) {
      const fingerprint = record.fingerprints[i]!;
      const inode = inodeOf(fingerprint);
      const carried = before.get(inode) === fingerprint ? after(inode) : undefined;
      if (carried) {
        record.fingerprints[i] = carried;
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
