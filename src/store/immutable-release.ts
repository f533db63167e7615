/**
 * A release whose marker says `immutable: true` carries the immutable attribute on every file and
 * directory once it is in releases/ (platform/immutable.ts). Set after the rename into releases/ (an
 * immutable directory cannot move), cleared before any removal, set again where a removal cleared it
 * on inodes that other releases share.
 */
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import { removeTree } from '../platform/fs.js';
import { mutableEntries, setImmutable, setImmutablePaths } from '../platform/immutable.js';
import { type Layout, RELEASE_MARKER } from './layout.js';
import type { ReleaseMarker } from './manifest.js';
import { listReleaseDirs, readMarker } from './release.js';

/** `already`: paths of the release that carry the attribute already (inodes shared with an immutable release). */
export async function makeReleaseImmutable(
  layout: Layout,
  marker: ReleaseMarker,
  already?: ReadonlySet<string>,
): Promise<void> {
  if (!marker.immutable) return;
  // The manifest lists every entry but the marker itself: no second walk of the tree.
  const listed = [...marker.files, { path: RELEASE_MARKER, type: 'file' }];
  const failed = await setImmutable(layout.release(marker.version), already, listed);
  if (failed) {
    throw new ReleaseSwitcherError('INTERNAL', `Release ${marker.version} could not be made immutable: ${failed}.`, {
      hint: 'The filesystem accepted the attribute when the release was sealed; check it (lsattr) and run release-switcher doctor.',
    });
  }
}

/**
 * Set the attribute again on releases that should have it (after a removal of files they shared), on
 * exactly the entries that lost it: setting it moves an inode's ctime even where it was set already,
 * and every moved ctime is a fingerprint gone stale (a re-hash at the next activation).
 */
export async function restoreImmutable(layout: Layout, versions: readonly string[]): Promise<void> {
  for (const version of versions) {
    const marker = await readMarker(layout, version);
    if (!marker?.immutable) continue;
    const dir = layout.release(version);
    // As before: what cannot be set here is left to doctor (notImmutable finds it).
    await setImmutablePaths(
      (await mutableEntries(dir)).map((rel) => path.join(dir, rel)),
      true,
    );
  }
}

/** Releases that should be immutable and are not (whole or in part): version → paths without the attribute. */
export async function notImmutable(layout: Layout, versions: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const version of versions) {
    const marker = await readMarker(layout, version);
    if (!marker?.immutable) continue;
    const mutable = await mutableEntries(layout.release(version));
    if (mutable.length > 0) out.set(version, mutable);
  }
  return out;
}

/**
 * Remove a staging or trash tree; where it held links into immutable releases (dedupe), those
 * inodes lost the attribute with its removal: set it again on every release that should have it.
 */
export async function removeTreeKeepingReleases(layout: Layout, dir: string): Promise<void> {
  if (await removeTree(dir)) await restoreImmutable(layout, (await listReleaseDirs(layout)).complete);
}
