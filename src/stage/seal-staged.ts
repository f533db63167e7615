/**
 * The end of every way a release is made (staging, adopt): the manifest, dedupe against earlier
 * releases, the release marker, and the seal, on a package root still private to staging.
 */
import path from 'node:path';
import type { ProgressEvent } from '../model/runtime.js';
import { writeFileAtomic } from '../platform/fs.js';
import { probeImmutable } from '../platform/immutable.js';
import type { LinkedInode } from '../store/fingerprints.js';
import { LAYOUT_VERSION, type Layout, RELEASE_MARKER } from '../store/layout.js';
import { type KnownHash, type ReleaseMarker, computeManifest, manifestSize } from '../store/manifest.js';
import { readMarker } from '../store/release.js';
import { type EarlierRelease, dedupeAgainst, sealTree } from '../store/seal.js';

export interface SealInput {
  layout: Layout;
  /** The complete package root, still private to staging. */
  pkgDir: string;
  /** Releases to share identical files with, newest first. */
  earlier: string[];
  identity: Pick<ReleaseMarker, 'name' | 'version' | 'integrity' | 'source' | 'node' | 'signatures'>;
  known?: ReadonlyMap<string, KnownHash>;
  /** Files already hardlinked from an earlier release (not deduped or chmodded again). */
  shared?: ReadonlySet<string>;
  /** Of those, the ones whose inodes carry the immutable attribute already. */
  sharedImmutable?: ReadonlySet<string>;
  progress: (event: ProgressEvent) => void;
  /** A check still running (the smoke check): awaited once the manifest is hashed, before anything is linked or sealed. */
  checked?: Promise<void> | undefined;
}

/** Manifest, dedupe against earlier releases, marker, seal: the end of every way a release is made. */
export async function sealStaged(input: SealInput): Promise<{
  marker: ReleaseMarker;
  linkedBytes: number;
  inodes: Map<string, LinkedInode>;
  alreadyImmutable: Set<string>;
}> {
  const { pkgDir, progress } = input;
  progress({ phase: 'manifest', message: 'hashing files' });
  const manifest = await computeManifest(pkgDir, input.known);
  await input.checked;
  const earlier = await earlierManifests(input.layout, input.earlier);
  const shared = input.shared ?? new Set<string>();
  const deduped = await dedupeAgainst({ stagedDir: pkgDir, files: manifest, earlier, shared });
  const { linkedBytes, internalBytes, inodes } = deduped;
  const linked = new Set([...deduped.linked, ...shared]);
  progress({
    phase: 'dedupe',
    message: `${linked.size} files (${linkedBytes} bytes) shared with earlier releases, ${internalBytes} bytes of duplicates within`,
  });
  const immutable = await probeImmutable(pkgDir);
  if (!immutable.supported)
    progress({
      phase: 'seal',
      message: `the release cannot be made immutable here (${immutable.reason}); sealed by mode bits only`,
    });
  const marker: ReleaseMarker = {
    layoutVersion: LAYOUT_VERSION,
    ...input.identity,
    installedAt: new Date().toISOString(),
    immutable: immutable.supported,
    size: manifestSize(manifest),
    files: manifest,
  };
  await writeFileAtomic(path.join(pkgDir, RELEASE_MARKER), `${JSON.stringify(marker)}\n`);
  await sealTree(pkgDir, linked, manifest, { staged: true }); // its top folder once it is in releases/
  progress({ phase: 'seal', message: `sealed ${manifest.length} entries` });
  return {
    marker,
    linkedBytes,
    inodes,
    alreadyImmutable: new Set([...(input.sharedImmutable ?? []), ...deduped.immutable]),
  };
}

async function earlierManifests(layout: Layout, versions: string[]): Promise<EarlierRelease[]> {
  const out: EarlierRelease[] = [];
  for (const version of versions) {
    const marker = await readMarker(layout, version);
    if (marker) out.push({ dir: layout.release(version), files: marker.files, immutable: marker.immutable === true });
  }
  return out;
}
