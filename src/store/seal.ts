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
import { withImmutableCleared } from '../platform/immutable.js';

export interface EarlierRelease {
  dir: string;
  files: readonly ManifestEntry[];
  /** Its files carry the immutable attribute: link(2) to them fails EPERM until it is cleared. */
  immutable?: boolean;
}

export interface DedupeResult {
  /** Relative paths now shared with an earlier release. */
  linked: Set<string>;
  /** Of those, the ones shared with an immutable release: they carry the attribute already. */
  immutable: Set<string>;
  linkedBytes: number;
  /** Bytes saved by linking duplicate files within the new release to each other. */
  internalBytes: number;
  /** Earlier releases' inodes linked to (`dev:ino`), before and after: their fingerprints are refreshed. */
  inodes: Map<string, LinkedInode>;
}

const LINK_PARALLELISM = 16;

const keyOf = (entry: { sha256: string; mode: number }) => `${entry.sha256}:${entry.mode}`;

export interface DedupeInput {
  /** The staged release's root. */
  stagedDir: string;
  /** Its manifest. */
  files: readonly ManifestEntry[];
  /** Releases to share identical files with, newest first. */
  earlier: readonly EarlierRelease[];
  /** Paths already linked from an earlier release (staging's reuse): left as they are. @default none */
  shared?: ReadonlySet<string> | undefined;
}

export async function dedupeAgainst(input: DedupeInput): Promise<DedupeResult> {
  const { stagedDir, files, earlier, shared = new Set<string>() } = input;
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
  const sourceOf = (entry: { path: string; sha256: string; mode: number }) =>
    byPath.get(`${entry.path}\0${keyOf(entry)}`) ?? byContent.get(keyOf(entry));
  const linked = new Set<string>();
  let linkedBytes = 0;
  const candidates = files.filter(
    (entry): entry is Extract<ManifestEntry, { type: 'file' }> =>
      entry.type === 'file' && !shared.has(entry.path) && byContent.has(keyOf(entry)),
  );
  // Each source inode is stat'ed once before anything touches it and once after all: the states its
  // earlier releases' fingerprints may be carried from and to (clearing +i, linking and setting +i
  // again each move its ctime).
  const sources = [...new Set(candidates.map((entry) => sourceOf(entry)!))];
  const before = new Map(
    await mapLimit(
      sources,
      LINK_PARALLELISM,
      async (source) => [source, await fs.lstat(source, { bigint: true })] as const,
    ),
  );
  // Immutable sources: clear the attribute on exactly the inodes we link to, link, set it again.
  // Under the root's lock; about 0.3 s per 10 000 files each way (measured), against re-storing them.
  const immutableDirs = earlier.filter((release) => release.immutable).map((release) => release.dir + path.sep);
  const unlock = sources.filter((source) => immutableDirs.some((dir) => source.startsWith(dir)));
  const unlocked = new Set(unlock);
  const immutable = new Set<string>();
  await withImmutableCleared(unlock, () =>
    mapLimit(candidates, LINK_PARALLELISM, async (entry) => {
      const target = path.join(stagedDir, entry.path);
      const source = sourceOf(entry)!;
      if (await replaceWithLink(source, target, before.get(source))) {
        linked.add(entry.path);
        linkedBytes += entry.size;
        if (unlocked.has(source)) immutable.add(entry.path);
      }
    }),
  );
  const within = await dedupeWithin(
    stagedDir,
    files.filter((entry) => !linked.has(entry.path) && !shared.has(entry.path)),
  );
  await assertNamesUnchanged(stagedDir, files, [...candidates.map((entry) => entry.path), ...within.targets]);
  const internalBytes = within.saved;
  const inodes = new Map<string, LinkedInode>(
    [...before].map(([source, stat]) => [inodeOf(fingerprintOf(stat)), { source, before: stat }]),
  );
  return { linked, immutable, linkedBytes, internalBytes, inodes };
}

/**
 * node_modules often holds the same file many times (nested copies of one package version): link
 * later copies to the first. Both are still private to the staging folder, so sealing the first
 * seals them all, and no earlier release is involved.
 */
async function dedupeWithin(
  stagedDir: string,
  files: readonly ManifestEntry[],
): Promise<{ saved: number; targets: string[] }> {
  const first = new Map<string, string>();
  const duplicates: { source: string; target: string; rel: string; size: number }[] = [];
  for (const entry of files) {
    if (entry.type !== 'file' || entry.size === 0) continue;
    const abs = path.join(stagedDir, entry.path);
    const seen = first.get(keyOf(entry));
    if (seen === undefined) first.set(keyOf(entry), abs);
    else duplicates.push({ source: seen, target: abs, rel: entry.path, size: entry.size });
  }
  let saved = 0;
  await mapLimit(duplicates, LINK_PARALLELISM, async ({ source, target, size }) => {
    if (await replaceWithLink(source, target)) saved += size;
  });
  return { saved, targets: duplicates.map((duplicate) => duplicate.rel) };
}

/**
 * Link `source` at a temp name beside `target`, then rename it over `target`. False when linking is
 * impossible or needless. Two names already on one inode (an install script that did
 * `link(a, tmp); rename(tmp, b)`, as esbuild's and workerd's do) are skipped: rename(2) between two
 * links of one inode does nothing and would leave the temp name behind. The temp name is removed on
 * every failure path, so the tree holds exactly the names it held before. `sourceStat`: the source's
 * inode when already known (dedupe stats every source once), to spare a stat per file.
 */
async function replaceWithLink(
  source: string,
  target: string,
  sourceStat?: { ino: bigint; dev: bigint },
): Promise<boolean> {
  const [from, to] = await Promise.all([
    sourceStat ?? fs.stat(source, { bigint: true }).catch(() => undefined),
    fs.lstat(target, { bigint: true }).catch(() => undefined),
  ]);
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
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
  // (A rename between two names of one inode would do nothing and leave the temp name: the inodes
  // differed just before, and assertNamesUnchanged would catch a leftover name.)
  return true;
}

/**
 * Whatever dedupe did, the names on disk must be exactly the names the manifest lists (the manifest
 * is recorded from before dedupe, which only swaps a file for a link to identical content and mode).
 * Dedupe only ever renames over `touched` names and makes temp names beside them: their folders are
 * the ones read again.
 */
async function assertNamesUnchanged(
  stagedDir: string,
  files: readonly ManifestEntry[],
  touched: readonly string[],
): Promise<void> {
  const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
  const dirs = new Set(touched.map(parentOf));
  if (dirs.size === 0) return;
  const expected = new Map<string, Set<string>>([...dirs].map((dir) => [dir, new Set<string>()]));
  for (const entry of files) expected.get(parentOf(entry.path))?.add(entry.path.slice(entry.path.lastIndexOf('/') + 1));
  const wrong: string[] = [];
  await mapLimit([...dirs], LINK_PARALLELISM, async (dir) => {
    const names = new Set(await fs.readdir(path.join(stagedDir, dir)));
    const want = expected.get(dir)!;
    const full = (name: string) => (dir ? `${dir}/${name}` : name);
    for (const name of names) if (!want.has(name) && full(name) !== RELEASE_MARKER) wrong.push(full(name));
    for (const name of want) if (!names.has(name)) wrong.push(`${full(name)} (missing)`);
  });
  if (wrong.length > 0) {
    throw new ReleaseSwitcherError(
      'INTERNAL',
      `Dedupe changed the names in ${stagedDir}: ${wrong.sort().slice(0, 5).join(', ')}.`,
      {
        hint: 'Please report this; nothing was installed.',
      },
    );
  }
}

/**
 * Remove every write bit below and including `dir`, deepest first; shared (linked) files are left
 * alone. `files`: the tree's manifest, when the names are known to be exactly those (sealing the
 * staged release right after its manifest and dedupe): each file gets the manifest's sealed mode, and
 * the tree is not walked again. Its marker file, beside the manifest's names, is sealed too.
 * `staged`: the tree is still in staging/ and will be renamed into releases/: `dir` itself keeps its
 * write bit until it is there (sealReleaseTop says why).
 */
export async function sealTree(
  dir: string,
  shared: ReadonlySet<string> = new Set(),
  files?: readonly ManifestEntry[],
  options: { staged?: boolean } = {},
): Promise<void> {
  if (files) {
    await assertLinksContained(
      dir,
      files.filter((entry) => entry.type === 'link').map((entry) => entry.path),
    );
    const own = files.filter(
      (entry): entry is Extract<ManifestEntry, { type: 'file' }> => entry.type === 'file' && !shared.has(entry.path),
    );
    await mapLimit(own, LINK_PARALLELISM, async (entry) => fs.chmod(path.join(dir, entry.path), entry.mode));
    const marker = path.join(dir, RELEASE_MARKER);
    const markerStat = await fs.lstat(marker).catch(() => undefined);
    if (markerStat?.isFile()) await fs.chmod(marker, markerStat.mode & 0o555);
    const dirs = files.filter((entry) => entry.type === 'dir').reverse();
    for (const entry of dirs) await fs.chmod(path.join(dir, entry.path), 0o555);
    if (!options.staged) await fs.chmod(dir, 0o555);
    return;
  }
  const entries = await walkTree(dir);
  await assertLinksContained(
    dir,
    entries.filter((entry) => entry.dirent.isSymbolicLink()).map((entry) => entry.rel),
  );
  await mapLimit(
    entries.filter((entry) => entry.dirent.isFile() && !shared.has(entry.rel)),
    LINK_PARALLELISM,
    async ({ abs }) => fs.chmod(abs, (await fs.stat(abs)).mode & 0o555),
  );
  const dirs = entries.filter((entry) => entry.dirent.isDirectory()).reverse();
  for (const { abs } of dirs) await fs.chmod(abs, 0o555);
  await fs.chmod(dir, 0o555);
}

/**
 * The last write bit of a staged release, taken once it is in releases/: moving a directory to another parent
 * rewrites its `..`, which needs write permission on the directory itself, and only root skips that check. So the
 * staged tree is sealed all but its top folder, renamed, then this (also by recovery, for a release renamed into
 * place by a run killed before it).
 */
export async function sealReleaseTop(dir: string): Promise<void> {
  const stat = await fs.stat(dir);
  if ((stat.mode & 0o222) !== 0) await fs.chmod(dir, stat.mode & 0o555);
}

/**
 * Rename a sealed release's folder to another parent (prune's trash): its top folder is given back its owner's write
 * bit for the move, for the reason sealReleaseTop gives. Only ever on a release that leaves releases/.
 */
export async function moveSealedDir(from: string, to: string): Promise<void> {
  await fs.chmod(from, 0o755);
  await fs.rename(from, to);
}
