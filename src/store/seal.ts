/**
 * Sealing a staged release: share files identical to an earlier release's by hardlink, then take
 * every write bit away. A shared inode is only ever linked to, never opened for writing or chmod'ed:
 * the staged copy is replaced by the link with rename(2), and sealing skips linked files.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { tempName } from '../platform/fs.js';
import { RELEASE_MARKER } from './layout.js';
import { type LinkedInode, inodeOf, fingerprintOf } from './fingerprints.js';
import type { ManifestEntry } from './manifest.js';
import { assertLinksContained } from './containment.js';
import { mapLimit, walkTree } from '../platform/tree.js';
import { setImmutablePaths } from '../platform/immutable.js';

export interface EarlierRelease {
  dir: string;
  files: readonly ManifestEntry[];
  /** Its files carry the immutable attribute: link(2) to them fails EPERM until it is cleared. */
  immutable?: boolean;
}

export interface DedupeResult {
  /** Relative paths now shared with an earlier release. */
  linked: Set<string>;
  linkedBytes: number;
  /** Bytes saved by linking duplicate files within the new release to each other. */
  internalBytes: number;
  /** Earlier releases' inodes linked to (`dev:ino`), before and after: their fingerprints are refreshed. */
  inodes: Map<string, LinkedInode>;
}

const LINK_PARALLELISM = 16;

const keyOf = (entry: { sha256: string; mode: number }) => `${entry.sha256}:${entry.mode}`;

/** `shared`: paths already linked from an earlier release (staging's reuse): left as they are. */
export async function dedupeAgainst(stagedDir: string, files: readonly ManifestEntry[], earlier: readonly EarlierRelease[], shared: ReadonlySet<string> = new Set()): Promise<DedupeResult> {
  // Same content at the same path is the common case (and keeps a release's files recognisable);
  // same content elsewhere still counts. Newest release first, so links gather on few inodes.
  const byContent = new Map<string, string>();
  const byPath = new Map<string, string>();
  for (const release of earlier) {
    for (const entry of release.files) {
      if (entry.type !== 'file' || entry.size === 0) continue;
      const abs = path.join(release.dir, entry.path);
      if (!byContent.has(keyOf(entry))) byContent.set(keyOf(entry), abs);
      if (!byPath.has(`${entry.path}\0${keyOf(entry)}`)) byPath.set(`${entry.path}\0${keyOf(entry)}`, abs);
    }
  }
  const sourceOf = (entry: { path: string; sha256: string; mode: number }) => byPath.get(`${entry.path}\0${keyOf(entry)}`) ?? byContent.get(keyOf(entry));
  const linked = new Set<string>();
  let linkedBytes = 0;
  const candidates = files.filter((entry): entry is Extract<ManifestEntry, { type: 'file' }> => entry.type === 'file' && !shared.has(entry.path) && byContent.has(keyOf(entry)));
  // Each source inode is stat'ed once before anything touches it and once after all: the states its
  // earlier releases' fingerprints may be carried from and to (clearing +i, linking and setting +i
  // again each move its ctime).
  const sources = [...new Set(candidates.map((entry) => sourceOf(entry)!))];
  const before = new Map(await mapLimit(sources, LINK_PARALLELISM, async (source) => [source, await fs.lstat(source, { bigint: true })] as const));
  // Immutable sources: clear the attribute on exactly the inodes we link to, link, set it again.
  // Under the root's lock; about 0.3 s per 10 000 files each way (measured), against re-storing them.
  const immutableDirs = earlier.filter((release) => release.immutable).map((release) => release.dir + path.sep);
  const unlock = sources.filter((source) => immutableDirs.some((dir) => source.startsWith(dir)));
  await setImmutablePaths(unlock, false);
  try {
    await mapLimit(candidates, LINK_PARALLELISM, async (entry) => {
      const target = path.join(stagedDir, entry.path);
      if (await replaceWithLink(sourceOf(entry)!, target)) {
        linked.add(entry.path);
        linkedBytes += entry.size;
      }
    });
  } finally {
    await setImmutablePaths(unlock, true);
  }
  const internalBytes = await dedupeWithin(stagedDir, files.filter((entry) => !linked.has(entry.path) && !shared.has(entry.path)));
  await assertNamesUnchanged(stagedDir, files);
  const inodes = new Map<string, LinkedInode>([...before].map(([source, stat]) => [inodeOf(fingerprintOf(stat)), { source, before: stat }]));
  return { linked, linkedBytes, internalBytes, inodes };
}

/**
 * node_modules often holds the same file many times (nested copies of one package version): link
 * later copies to the first. Both are still private to the staging folder, so sealing the first
 * seals them all, and no earlier release is involved.
 */
async function dedupeWithin(stagedDir: string, files: readonly ManifestEntry[]): Promise<number> {
  const first = new Map<string, string>();
  const duplicates: { source: string; target: string; size: number }[] = [];
  for (const entry of files) {
    if (entry.type !== 'file' || entry.size === 0) continue;
    const abs = path.join(stagedDir, entry.path);
    const seen = first.get(keyOf(entry));
    if (seen === undefined) first.set(keyOf(entry), abs);
    else duplicates.push({ source: seen, target: abs, size: entry.size });
  }
  let saved = 0;
  await mapLimit(duplicates, LINK_PARALLELISM, async ({ source, target, size }) => {
    if (await replaceWithLink(source, target)) saved += size;
  });
  return saved;
}

/**
 * Link `source` at a temp name beside `target`, then rename it over `target`. False when linking is
 * impossible or needless. Two names already on one inode (an install script that did
 * `link(a, tmp); rename(tmp, b)`, as esbuild's and workerd's do) are skipped: rename(2) between two
 * links of one inode does nothing and would leave the temp name behind. The temp name is removed on
 * every path, so the tree holds exactly the names it held before.
 */
async function replaceWithLink(source: string, target: string): Promise<boolean> {
  const [from, to] = await Promise.all([fs.stat(source).catch(() => undefined), fs.lstat(target).catch(() => undefined)]);
  if (!from || !to || (from.ino === to.ino && from.dev === to.dev)) return false;
  const tmp = tempName(target);
  try {
    await fs.link(source, tmp);
  } catch (error) {
    // EMLINK: the inode has as many links as the filesystem allows; EXDEV: another filesystem;
    // EPERM: the inode is immutable (a sealed release, see immutable.ts).
    if (['EMLINK', 'EXDEV', 'ENOENT', 'EPERM'].includes(errnoOf(error) ?? '')) return false;
    throw error;
  }
  try {
    await fs.rename(tmp, target);
  } finally {
    await fs.rm(tmp, { force: true });
  }
  return true;
}

/**
 * Whatever dedupe did, the names on disk must be exactly the names the manifest lists (the manifest
 * is recorded from before dedupe, which only swaps a file for a link to identical content and mode).
 */
async function assertNamesUnchanged(stagedDir: string, files: readonly ManifestEntry[]): Promise<void> {
  const expected = new Set(files.map((entry) => entry.path));
  const actual = (await walkTree(stagedDir, { skip: (rel) => rel === RELEASE_MARKER })).map((entry) => entry.rel);
  const extra = actual.filter((rel) => !expected.has(rel));
  if (extra.length > 0 || actual.length !== expected.size) {
    throw new ReleaseSwitcherError('INTERNAL', `Dedupe changed the names in ${stagedDir}: ${extra.slice(0, 5).join(', ') || 'names missing'}.`, {
      hint: 'Please report this; nothing was installed.',
    });
  }
}

/** Remove every write bit below and including `dir`, deepest first; shared (linked) files are left alone. */
export async function sealTree(dir: string, shared: ReadonlySet<string> = new Set()): Promise<void> {
  const entries = await walkTree(dir);
  await assertLinksContained(dir, entries.filter((entry) => entry.dirent.isSymbolicLink()).map((entry) => entry.rel));
  await mapLimit(
    entries.filter((entry) => entry.dirent.isFile() && !shared.has(entry.rel)),
    LINK_PARALLELISM,
    async ({ abs }) => fs.chmod(abs, (await fs.stat(abs)).mode & 0o555),
  );
  const dirs = entries.filter((entry) => entry.dirent.isDirectory()).reverse();
  for (const { abs } of dirs) await fs.chmod(abs, 0o555);
  await fs.chmod(dir, 0o555);
}
