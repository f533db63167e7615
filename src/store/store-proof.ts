/**
 * Which files a new release linked from the content-addressed store are vouched for by an earlier
 * release's fingerprints, as files linked from the previous release are: the store's inode, just before
 * this staging first touched it, had exactly the fingerprint an earlier release recorded for one of its
 * entries (so it is unchanged since that release hashed or proved it), and that entry's sha256 in the
 * earlier manifest is the one the new manifest took from the store's index. Such a file gets its
 * fingerprint like any other; the rest (a store file no retained release links, or one that changed
 * since) stay unproven, re-hashed at the first activation (store/fingerprints.ts recordFingerprints).
 */
import fs from 'node:fs/promises';
import { type LinkedInode, fingerprintOf, inodeOf, readRecord, sha256Of } from './fingerprints.js';
import type { Layout } from './layout.js';
import type { ReleaseMarker } from './manifest.js';

export async function stillUnproven(
  layout: Layout,
  input: {
    /** The new release's marker, and its paths taken on the store's word. */
    marker: ReleaseMarker;
    unproven: ReadonlySet<string>;
    /** Inodes linked to, as they were before this staging touched them (dev:ino → state). */
    inodes: ReadonlyMap<string, LinkedInode>;
    /** Earlier releases, whose records may vouch. */
    earlier: readonly string[];
    /** Each entry's fingerprint in the new release as it is now (statEntries), in the marker's order. */
    fingerprints: readonly string[];
  },
): Promise<Set<string>> {
  const left = new Set(input.unproven);
  if (left.size === 0 || input.earlier.length === 0) return left;
  const sha = new Map<string, string>();
  const now = new Map<string, string>();
  input.marker.files.forEach((entry, i) => {
    if (entry.type !== 'file' || !left.has(entry.path)) return;
    sha.set(entry.path, entry.sha256);
    if (input.fingerprints[i]) now.set(entry.path, input.fingerprints[i]!);
  });
  // The state each unproven file's inode had before it was linked: the fingerprint an earlier record must hold.
  const wanted = new Map<string, string[]>();
  for (const rel of left) {
    const fingerprintNow = now.get(rel);
    const before = fingerprintNow && input.inodes.get(inodeOf(fingerprintNow))?.before;
    if (!before) continue;
    const fingerprint = fingerprintOf(before);
    wanted.set(fingerprint, [...(wanted.get(fingerprint) ?? []), rel]);
  }
  for (const version of input.earlier) {
    if (wanted.size === 0) break;
    const record = await readRecord(layout, version);
    if (!record) continue;
    const hits: { index: number; rels: string[] }[] = [];
    record.fingerprints.forEach((fingerprint, index) => {
      const rels = wanted.get(fingerprint);
      if (rels) hits.push({ index, rels });
    });
    if (hits.length === 0) continue;
    // The record belongs to the marker it was taken against; a marker that changed since proves nothing.
    const text = await fs.readFile(layout.marker(version)).catch(() => undefined);
    if (!text || sha256Of(text) !== record.markerSha256) continue;
    const marker = JSON.parse(text.toString('utf8')) as ReleaseMarker;
    if (!Array.isArray(marker.files) || marker.files.length !== record.paths.length) continue;
    for (const { index, rels } of hits) {
      const entry = marker.files[index];
      if (entry?.type !== 'file' || entry.path !== record.paths[index]) continue;
      for (const rel of rels) if (sha.get(rel) === entry.sha256) left.delete(rel);
    }
  }
  return left;
}
