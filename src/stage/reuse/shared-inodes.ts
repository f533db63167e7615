/**
 * The inodes a staging shares with an earlier release, watched: each one's state before anything here
 * touches it (the earlier release's fingerprints are carried from it), the baseline once every link is
 * made, and the check afterwards that nothing wrote through one.
 */
import { lstatSync, statSync } from 'node:fs';
import path from 'node:path';
import type { KnownHash } from '../../store/manifest.js';
import { type LinkedInode, fingerprintOf, inodeOf } from '../../store/fingerprints.js';
import { eachSync } from '../../platform/tree.js';

export interface LinkedSet {
  known: Map<string, KnownHash>;
  /** Linked files and the ctime they had once all linking (bins, immutable attribute) was done. */
  files: { abs: string; rel: string; ctimeNs: bigint }[];
  packages: number;
  bytes: number;
}

/** A file now hardlinked to an earlier release's inode, and that content's sha256. */
export interface SharedFile {
  path: string;
  sha256: string;
  size: number;
}

export interface Linked {
  files: SharedFile[];
  /** The earlier release's inodes linked to, as they were before the first link (their fingerprints are carried). */
  inodes: Map<string, LinkedInode>;
}

/**
 * Each source inode's state before anything here touches it (clearing +i, linking move its ctime):
 * the state the earlier release's fingerprints may be carried from (fingerprints.ts refreshAfterLinks).
 */
export async function statSources(sources: readonly string[]): Promise<Map<string, LinkedInode>> {
  const inodes = new Map<string, LinkedInode>();
  await eachSync(sources, (source) => {
    const before = lstatSync(source, { bigint: true, throwIfNoEntry: false });
    if (before) inodes.set(inodeOf(fingerprintOf(before)), { source, before });
  });
  return inodes;
}

/**
 * Each linked file's state once every link of this staging is made and the immutable attribute is
 * back: the ctime a later write (or chmod, or unlink) through the inode would move, and the hash the
 * manifest may take while the inode shows no change.
 */
export async function baseline(pkgDir: string, shared: readonly SharedFile[], packages: number): Promise<LinkedSet> {
  const out: LinkedSet = { known: new Map(), files: [], packages, bytes: 0 };
  await eachSync(shared, (entry) => {
    const abs = path.join(pkgDir, entry.path);
    const stat = statSync(abs, { bigint: true });
    out.known.set(entry.path, { ino: stat.ino, size: stat.size, ctimeNs: stat.ctimeNs, sha256: entry.sha256 });
    out.files.push({ abs, rel: entry.path, ctimeNs: stat.ctimeNs });
    out.bytes += entry.size;
  });
  return out;
}

/**
 * Linked files whose inode changed since linking: something wrote through a shared inode. Of `mayGo`
 * (release paths), one that is gone is not counted: a script removed its own package's file, which takes
 * a name away and leaves the content as it was.
 */
export async function movedInodes(linked: LinkedSet, mayGo: ReadonlySet<string> = new Set()): Promise<string[]> {
  const moved: string[] = [];
  await eachSync(linked.files, ({ abs, rel, ctimeNs }) => {
    const stat = lstatSync(abs, { bigint: true, throwIfNoEntry: false });
    if (!stat ? !mayGo.has(rel) : stat.ctimeNs !== ctimeNs) moved.push(abs);
  });
  return moved;
}
