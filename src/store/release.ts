/** A release on disk: its marker (manifest), whether it is complete, whether it is intact. */
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { readJsonIfExists } from '../platform/fs.js';
import { type Layout, isValidVersion } from './layout.js';
import { ProvenInodes, diffByFingerprints } from './fast-verify.js';
import {
  type CompactRecord,
  fingerprintOf,
  lstatIfExists,
  readRecord,
  recordOf,
  sha256Of,
  statEntries,
  typesOf,
  writeRecord,
} from './fingerprints.js';
import { type ReleaseMarker, diffAgainstManifest } from './manifest.js';

export { ProvenInodes };

export async function readMarker(layout: Layout, version: string): Promise<ReleaseMarker | undefined> {
  if (!isValidVersion(version)) return undefined; // a directory named otherwise is never a release
  if (!(await isRealDirectory(layout.release(version)))) return undefined;
  try {
    const marker = (await readJsonIfExists(layout.marker(version))) as ReleaseMarker | undefined;
    return marker && marker.version === version && Array.isArray(marker.files) ? marker : undefined;
  } catch {
    return undefined; // an unreadable marker is no marker: not a release
  }
}

/**
 * A release is a real directory under releases/, never a symbolic link (or anything else) however marker-shaped
 * what it leads to is: a link would make us seal, chattr and serve a folder outside the root.
 */
export async function isRealDirectory(dir: string): Promise<boolean> {
  return (await fs.lstat(dir).catch(() => undefined))?.isDirectory() ?? false;
}

/** The marker in already-read bytes (read once: they are hashed too), under readMarker's rules. */
function markerFrom(text: Buffer | undefined, version: string): ReleaseMarker | undefined {
  try {
    const marker = text && (JSON.parse(text.toString('utf8')) as ReleaseMarker);
    return marker && marker.version === version && Array.isArray(marker.files) ? marker : undefined;
  } catch {
    return undefined;
  }
}

/** Versions that have a directory under releases/ with a valid marker. */
export async function listReleaseDirs(layout: Layout): Promise<{ complete: string[]; incomplete: string[] }> {
  let names: string[];
  try {
    names = await fs.readdir(layout.releases);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { complete: [], incomplete: [] };
    throw error;
  }
  const complete: string[] = [];
  const incomplete: string[] = [];
  for (const name of names.sort()) {
    if (isValidVersion(name) && (await readMarker(layout, name))) complete.push(name);
    else incomplete.push(name);
  }
  return { complete, incomplete };
}

/** What recovery needs to know of releases/ to reconcile the journal with it. */
export interface ReleaseDirScan {
  /** Versions whose directory holds a complete release. */
  complete: Set<string>;
  /** Of those, the ones the journal did not know, with their parsed markers (all recovery records of them). */
  unrecorded: Map<string, ReleaseMarker>;
}

/**
 * releases/ as recovery sees it before every mutation, without parsing every manifest (a marker
 * holds one: several MB for a large release). A version the journal records is recognised by its
 * marker file being there, a regular file: a marker is written whole inside staging before the one
 * rename that makes the directory a release, and prune moves a release out by one rename before it
 * deletes anything, so releases/ never holds half a release or half a marker. Whether a recorded
 * release still matches its marker is checked where it matters, in full: before each activation
 * (verifyReleaseFast) and by doctor. Only a directory the journal does not know (renamed into
 * place by a run killed before it journaled it) has its marker read and parsed here, as before.
 */
export async function scanReleaseDirs(
  layout: Layout,
  recorded: Readonly<Record<string, unknown>>,
): Promise<ReleaseDirScan> {
  const scan: ReleaseDirScan = { complete: new Set(), unrecorded: new Map() };
  let names: string[];
  try {
    names = await fs.readdir(layout.releases);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return scan;
    throw error;
  }
  for (const name of names.sort()) {
    if (!isValidVersion(name)) continue;
    if (Object.hasOwn(recorded, name)) {
      if (!(await isRealDirectory(layout.release(name)))) continue;
      const stat = await fs.lstat(layout.marker(name)).catch(() => undefined);
      if (stat?.isFile()) scan.complete.add(name);
      continue;
    }
    const marker = await readMarker(layout, name);
    if (marker) {
      scan.complete.add(name);
      scan.unrecorded.set(name, marker);
    }
  }
  return scan;
}

/** Re-hash a release against its manifest; throws RELEASE_TAMPERED (or RELEASE_NOT_FOUND) with the differences. */
export async function verifyRelease(layout: Layout, version: string): Promise<ReleaseMarker> {
  const marker = await requireMarker(layout, version);
  throwIfTampered(layout, marker, await diffAgainstManifest(layout.release(version), marker.files));
  return marker;
}

/** What a check of a release found: it matches its manifest, of so many entries. */
export interface CheckedRelease {
  version: string;
  entries: number;
}

/**
 * The same verdict as verifyRelease without re-hashing what has not changed: entries whose stat
 * fingerprint (ctime included) still matches the one recorded after sealing are intact; the others
 * are checked in full, and refreshed when intact. While the marker's own fingerprint matches too,
 * the manifest is not even read (the record holds its paths, in its order, and the sha256 of the
 * marker it was taken against). A release without a usable record (sealed by an older version,
 * a record corrupt or of another format, a marker that changed since) is re-hashed in full, and
 * recorded anew when intact.
 */
export async function checkReleaseFast(
  layout: Layout,
  version: string,
  proven?: ProvenInodes,
): Promise<CheckedRelease> {
  const record = await readRecord(layout, version);
  const markerChecked = record ? await markerMatches(layout, version, record) : false;
  if (!record || !markerChecked) return checkInFullAndRecord(layout, version, proven);
  let marker: Promise<ReleaseMarker> | undefined;
  const readManifest = () => (marker ??= requireMarker(layout, version));
  const { problems, refreshed } = await diffByFingerprints(
    layout.release(version),
    record,
    async () => (await readManifest()).files,
    proven,
  );
  if (problems.length > 0) throwIfTampered(layout, await readManifest(), problems);
  if (refreshed.size > 0 || markerChecked === 'refreshed') {
    for (const [index, fingerprint] of refreshed) record.fingerprints[index] = fingerprint;
    await writeRecord(layout, version, record).catch(() => undefined); // a record is a cache: the next check re-hashes what it could not save
  }
  proven?.add(record.types, record.fingerprints); // each as it was just found intact
  return { version, entries: record.paths.length };
}

/** verifyReleaseFast's check, returning the marker (read and parsed: callers who need no marker call checkReleaseFast). */
export async function verifyReleaseFast(
  layout: Layout,
  version: string,
  proven?: ProvenInodes,
): Promise<ReleaseMarker> {
  await checkReleaseFast(layout, version, proven);
  return requireMarker(layout, version);
}

/**
 * Whether the marker is the one the record was taken against: its fingerprint unchanged (true), or
 * its bytes still hashing to the recorded sha256 (`refreshed`: the record takes its new fingerprint).
 */
async function markerMatches(layout: Layout, version: string, record: CompactRecord): Promise<boolean | 'refreshed'> {
  const stat = await lstatIfExists(layout.marker(version));
  if (!stat?.isFile()) return false;
  const fingerprint = fingerprintOf(stat);
  if (fingerprint === record.marker) return true;
  const text = await fs.readFile(layout.marker(version)).catch(() => undefined);
  if (!text || sha256Of(text) !== record.markerSha256 || !markerFrom(text, version)) return false;
  record.marker = fingerprint; // taken before the bytes were read: a change since moves it again
  return 'refreshed';
}

/**
 * The full re-hash, for a release without a usable record; when intact, a record is written of
 * fingerprints taken before anything was hashed (a change during the re-hash moves a ctime past them).
 */
async function checkInFullAndRecord(layout: Layout, version: string, proven?: ProvenInodes): Promise<CheckedRelease> {
  const markerStat = await lstatIfExists(layout.marker(version));
  const text = await fs.readFile(layout.marker(version)).catch(() => undefined);
  const marker = markerFrom(text, version) ?? (await requireMarker(layout, version));
  const dir = layout.release(version);
  const fingerprints = await statEntries(
    dir,
    marker.files.map((entry) => entry.path),
  );
  throwIfTampered(layout, marker, await diffAgainstManifest(dir, marker.files));
  if (text && markerStat?.isFile())
    await writeRecord(layout, version, recordOf(marker, text, fingerprintOf(markerStat), fingerprints)).catch(
      () => undefined,
    );
  proven?.add(typesOf(marker.files), fingerprints); // taken before the re-hash that found them intact
  return { version, entries: marker.files.length };
}

export type WayBack =
  | { version: string; proven: true; entries: number }
  | { version: string; proven: false; error: unknown };

/**
 * Prove the way back before a flip (issue 12 item 2): fast-check the release `current` names now,
 * so that if the new release fails, the flip back needs no hashing. Null when there is no way back
 * (first activation). `proven`: what checking the target found intact (fast-verify.ts ProvenInodes),
 * so the inodes both releases share are not looked at twice. Never throws for a broken way back: the driver decides (refuse the activation,
 * or go on with no rollback target); `error` is the RELEASE_TAMPERED/RELEASE_NOT_FOUND it met.
 */
export async function proveWayBack(
  layout: Layout,
  leaving: string | null,
  proven?: ProvenInodes,
): Promise<WayBack | null> {
  if (leaving === null) return null;
  try {
    return { version: leaving, proven: true, entries: (await checkReleaseFast(layout, leaving, proven)).entries };
  } catch (error) {
    return { version: leaving, proven: false, error };
  }
}

async function requireMarker(layout: Layout, version: string): Promise<ReleaseMarker> {
  const marker = await readMarker(layout, version);
  if (!marker) {
    throw new ReleaseSwitcherError(
      'RELEASE_NOT_FOUND',
      `Release ${version} is not installed (no complete release in ${layout.release(version)}).`,
      {
        hint: `Install it first: release-switcher install ${version}`,
      },
    );
  }
  return marker;
}

function throwIfTampered(layout: Layout, marker: ReleaseMarker, problems: string[]): void {
  if (problems.length === 0) return;
  const { version } = marker;
  throw new ReleaseSwitcherError(
    'RELEASE_TAMPERED',
    `Release ${version} no longer matches its manifest: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}.`,
    {
      hint: `Do not run it. Move it aside (mv ${layout.release(version)} ${layout.release(version)}.tampered), then run release-switcher recover and install ${marker.name}@${version} again.`,
      details: { problems },
    },
  );
}

/** semver, loaded on the first comparison (list, prune, install): switch and rollback never compare versions. */
let semver: { rcompare: (a: string, b: string) => number; valid: (v: string) => string | null } | undefined;
function semverFunctions(): NonNullable<typeof semver> {
  const require = createRequire(import.meta.url);
  semver ??= { rcompare: require('semver/functions/rcompare.js'), valid: require('semver/functions/valid.js') };
  return semver;
}

/** Newest first: semver order where both are versions. */
export function compareVersionsDesc(a: string, b: string): number {
  const { rcompare, valid } = semverFunctions();
  return valid(a) && valid(b) ? rcompare(a, b) : b.localeCompare(a);
}
