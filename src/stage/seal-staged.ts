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
import type { TreeNode } from './resolve/resolve-tree.js';
import { type MainTarball, addMainToStore, addToStore } from './reuse/to-store.js';

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
  /** Files whose hash is the store's word (linked from it): no fingerprint is recorded for them. */
  unproven?: ReadonlySet<string> | undefined;
  /** The tree's packages as the fast path placed them: once sealed, those the store lacks go into it. */
  storeNodes?: readonly TreeNode[] | undefined;
  /** The main package's tarball, unpacked by this staging: once sealed, it goes into the store whole. */
  storeMain?: MainTarball | undefined;
}

/** Manifest, dedupe against earlier releases, marker, seal: the end of every way a release is made. */
export async function sealStaged(input: SealInput): Promise<{
  marker: ReleaseMarker;
  linkedBytes: number;
  inodes: Map<string, LinkedInode>;
  alreadyImmutable: Set<string>;
  unproven: ReadonlySet<string>;
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
  if ((input.storeNodes && input.storeNodes.length > 0) || input.storeMain) {
    // Sealed: every file has its final content and mode, no script runs any more.
    const added = await addToStore(input.layout, { pkgDir, nodes: input.storeNodes ?? [], manifest });
    if (input.storeMain) {
      const main = await addMainToStore(input.layout, { pkgDir, manifest, main: input.storeMain });
      added.packages += main.packages;
      added.files += main.files;
      added.copied += main.copied;
    }
    if (added.packages > 0)
      progress({
        phase: 'seal',
        message: `${added.packages} packages added to the store (${added.files} files${added.copied > 0 ? `, ${added.copied} of them copied: the store is on another filesystem than staging` : ''})`,
      });
  }
  return {
    marker,
    linkedBytes,
    inodes,
    unproven: input.unproven ?? new Set(),
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
