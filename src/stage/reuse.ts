/**
 * The fast path's tree work: link unchanged packages from a retained release file by file, extract
 * the new ones from the npm cache, record the tree as npm's hidden lockfile does, and prove afterwards
 * that nothing wrote through a shared inode.
 */
import { createHash } from 'node:crypto';
import { constants, lstatSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import normalizeBins from 'npm-normalize-package-bin';
import pacote from 'pacote';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { type KnownHash, type ManifestEntry, sealedMode } from '../store/manifest.js';
import { type LinkedInode, fingerprintOf, inodeOf } from '../store/fingerprints.js';
import { withImmutableCleared } from '../platform/immutable.js';
import { YIELD_EVERY, mapLimit, yieldToLoop } from '../platform/tree.js';
import type { TreeNode } from './resolve-tree.js';
import { hasEvent } from './dep-scripts.js';
import { type DeferredFile, unpack } from './unpack-call.js';

/** npm's hidden lockfile inside the package root: the record the next staging compares against. */
export const TREE_RECORD = 'node_modules/.package-lock.json';
const LINK_PARALLELISM = 32;

export interface PreviousRelease {
  dir: string;
  files: ManifestEntry[];
  node: string;
  packages: Record<string, { version?: string; integrity?: string }>;
  /** Its files carry the immutable attribute: linking to them means clearing it for the moment. */
  immutable: boolean;
}

export async function readPrevious(marker: { dir: string; files: ManifestEntry[]; node: string; immutable: boolean }): Promise<PreviousRelease | undefined> {
  try {
    const record = JSON.parse(await fs.readFile(path.join(marker.dir, TREE_RECORD), 'utf8')) as { packages?: PreviousRelease['packages'] };
    return { ...marker, packages: record.packages ?? {} };
  } catch {
    return undefined;
  }
}

export function isReusable(node: TreeNode, previous: PreviousRelease | undefined): boolean {
  const old = previous?.packages[node.location];
  return Boolean(old && node.integrity && old.version === node.version && old.integrity === node.integrity);
}

/**
 * The manifest's entries of each package in `locations`: under its folder, not inside its own
 * node_modules (the same rule per package as a prefix scan, in one pass over the manifest).
 */
function entriesByPackage(files: ManifestEntry[], locations: ReadonlySet<string>): Map<string, ManifestEntry[]> {
  const out = new Map<string, ManifestEntry[]>();
  const marker = 'node_modules/';
  for (const entry of files) {
    const p = entry.path;
    for (let at = p.indexOf(marker); at >= 0; at = p.indexOf(marker, at + 1)) {
      if (at > 0 && p[at - 1] !== '/') continue;
      const start = at + marker.length;
      let end = p.indexOf('/', start);
      if (end >= 0 && p[start] === '@') end = p.indexOf('/', end + 1);
      if (end < 0) break;
      const location = p.slice(0, end);
      if (!locations.has(location) || p.startsWith(`${location}/node_modules/`)) continue;
      const list = out.get(location);
      if (list) list.push(entry);
      else out.set(location, [entry]);
      break;
    }
  }
  return out;
}

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
async function statSources(sources: readonly string[]): Promise<Map<string, LinkedInode>> {
  const inodes = new Map<string, LinkedInode>();
  await eachSync(sources, (source) => {
    const before = lstatSync(source, { bigint: true, throwIfNoEntry: false });
    if (before) inodes.set(inodeOf(fingerprintOf(before)), { source, before });
  });
  return inodes;
}

/**
 * Run `fn` over `items` synchronously, giving the event loop a turn now and then: for stats of tens
 * of thousands of cached inodes, a promise each costs more than the stat (measured: 41 000 lstats
 * 1.2 s this way, 3.0 s as promises, on a loaded machine).
 */
async function eachSync<T>(items: readonly T[], fn: (item: T) => void): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    if (i % (4 * YIELD_EVERY) === 0) await yieldToLoop();
    fn(items[i]!);
  }
}

/**
 * Link unchanged packages from `previous`. `beforeSeal` runs while the linked inodes are still
 * writable (bin links chmod their targets). The baseline ctimes are taken by `baseline` once every
 * link of this staging is made.
 */
export async function linkPackages(pkgDir: string, previous: PreviousRelease, nodes: TreeNode[], beforeSeal: () => Promise<void>, wait?: { later: ReadonlySet<string>; until: Promise<unknown> }): Promise<Linked> {
  const byPackage = entriesByPackage(previous.files, new Set(nodes.map((node) => node.location)));
  const entriesFor = (list: TreeNode[]) => list.flatMap((node) => [{ path: node.location, type: 'dir' } as ManifestEntry, ...(byPackage.get(node.location) ?? [])]);
  const now = entriesFor(nodes.filter((node) => !wait?.later.has(node.location)));
  const later = entriesFor(nodes.filter((node) => wait?.later.has(node.location)));
  // link(2) to an immutable inode is EPERM even for root: clear the attribute on exactly the inodes
  // linked to, under the root's lock, and set it again before any script runs.
  const linkedFiles = [...now, ...later].filter((entry): entry is Extract<ManifestEntry, { type: 'file' }> => entry.type === 'file');
  const allSources = linkedFiles.map((entry) => path.join(previous.dir, entry.path));
  const inodes = await statSources(allSources);
  const sources = previous.immutable ? allSources : [];
  const linkAll = async (entries: ManifestEntry[]) => {
    for (const entry of entries) if (entry.type === 'dir') await fs.mkdir(path.join(pkgDir, entry.path), { recursive: true });
    await mapLimit(entries, LINK_PARALLELISM, async (entry) => {
      const abs = path.join(pkgDir, entry.path);
      if (entry.type === 'link') await fs.symlink(entry.target, abs);
      if (entry.type === 'file') await fs.link(path.join(previous.dir, entry.path), abs);
    });
  };
  await withImmutableCleared(sources, async () => {
    await linkAll(now);
    if (later.length > 0) {
      // Packages nested inside a package being extracted: the unpacker wants its folder to itself.
      await wait!.until;
      await linkAll(later);
    }
    await beforeSeal();
  });
  return { files: linkedFiles.map((entry) => ({ path: entry.path, sha256: entry.sha256, size: entry.size })), inodes };
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

/** Linked files whose inode changed since linking: something wrote through a shared inode. */
export async function movedInodes(linked: LinkedSet): Promise<string[]> {
  const moved: string[] = [];
  await eachSync(linked.files, ({ abs, ctimeNs }) => {
    const stat = lstatSync(abs, { bigint: true, throwIfNoEntry: false });
    if (!stat || stat.ctimeNs !== ctimeNs) moved.push(abs);
  });
  return moved;
}

export interface ExtractOptions {
  pkgDir: string;
  pacoteOptions: Record<string, unknown>;
  signal?: AbortSignal | undefined;
  /** The release files are linked from (see linkableIn); none: every file is written. */
  previous?: PreviousRelease | undefined;
}

export interface Extracted {
  files: number;
  bytes: number;
  known: Map<string, KnownHash>;
  /** Files not written: the previous release holds them byte for byte (linkExtracted links them). */
  deferred: DeferredFile[];
  /** Of those, the paths that must be private copies after all (bin targets, packages with install scripts). */
  private: Set<string>;
}

/**
 * Which file of `previous` holds this content with this sealed mode: the one at the same path if it
 * does, else any. Empty files are written (a link saves nothing).
 */
export function linkableIn(previous: PreviousRelease): (releasePath: string, file: { sha256: string; mode: number; size: number }) => string | undefined {
  const byContent = new Map<string, string>();
  const atPath = new Map<string, string>();
  for (const entry of previous.files) {
    if (entry.type !== 'file' || entry.size === 0) continue;
    const key = `${entry.sha256}:${entry.mode}:${entry.size}`;
    if (!byContent.has(key)) byContent.set(key, entry.path);
    atPath.set(entry.path, key);
  }
  return (releasePath, file) => {
    const key = `${file.sha256}:${sealedMode(file.mode)}:${file.size}`;
    const rel = atPath.get(releasePath) === key ? releasePath : byContent.get(key);
    return rel === undefined ? undefined : path.join(previous.dir, rel);
  };
}

/**
 * Unpack new packages from the npm cache (pacote checks the integrity; a cache miss fetches). Each
 * tarball goes through a file: a streamed cache read that fails midway emits an error nobody can
 * catch in pacote 21, and a file lets pacote retry from the registry.
 */
export async function extractPackages(nodes: TreeNode[], options: ExtractOptions): Promise<Extracted> {
  let files = 0;
  let bytes = 0;
  const known = new Map<string, KnownHash>();
  const deferred: DeferredFile[] = [];
  const privateCopies = new Set<string>();
  const linkable = options.previous ? linkableIn(options.previous) : undefined;
  const tmp = await fs.mkdtemp(path.join(options.pkgDir, '..', 'tarballs-'));
  try {
    let seq = 0;
    // The first failure stops the others from starting, and is thrown once every worker is done:
    // removing `tmp` while one still writes a tarball into it would bury that failure under ENOTEMPTY.
    let failure: { error: unknown } | undefined;
    // A package nested inside another new one is unpacked once that one is (the unpacker wants its
    // folder to itself): parents go first (by depth), so a package only ever waits on one started before it.
    const ordered = [...nodes].sort((a, b) => a.location.split('/node_modules/').length - b.location.split('/node_modules/').length);
    const done = new Map<string, Promise<void>>();
    await mapLimit(ordered, 4, async (node) => {
      if (failure) return;
      const finished = extractOne(node);
      done.set(node.location, finished);
      finished.catch(() => undefined);
      try {
        await finished;
      } catch (error) {
        failure ??= { error };
      }
    });
    if (failure) throw failure.error;
    async function extractOne(node: TreeNode): Promise<void> {
      options.signal?.throwIfAborted();
      const file = path.join(tmp, `${seq++}.tgz`);
      await pacote.tarball.file(node.resolved!, file, { ...options.pacoteOptions, integrity: node.integrity ?? undefined, resolved: node.resolved ?? undefined });
      for (let at = node.location.indexOf('/node_modules/'); at >= 0; at = node.location.indexOf('/node_modules/', at + 1)) {
        await done.get(node.location.slice(0, at));
      }
      // A package that runs install scripts gets private files: a script may rewrite its own files in
      // place, which through a shared inode would write into the earlier release. Its package.json is
      // read below, so it is always written.
      const ownJson = `${node.location}/package.json`;
      const canLink = linkable && !node.hasInstallScript ? (rel: string, entry: { sha256: string; mode: number; size: number }) => (rel === ownJson ? undefined : linkable(rel, entry)) : undefined;
      const dest = path.join(options.pkgDir, node.location);
      const result = await unpack({ tarball: file, dest, location: node.location, signal: options.signal, ...(canLink ? { linkable: canLink } : {}) });
      await fs.rm(file, { force: true });
      files += result.count;
      bytes += result.bytes;
      for (const [rel, hash] of result.known) known.set(rel, hash);
      if (result.deferred.length === 0) return;
      deferred.push(...result.deferred);
      for (const rel of await mustBePrivate(dest, node.location, result.deferred)) privateCopies.add(rel);
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  return { files, bytes, known, deferred, private: privateCopies };
}

/**
 * Of a package's deferred files, those that must be private copies: every one when the package runs
 * an install script after all (node-gyp's implicit one included), else its bin targets (bin-links
 * chmods them), and anything below `directories.bin`.
 */
async function mustBePrivate(dir: string, location: string, deferred: readonly DeferredFile[]): Promise<string[]> {
  const pkg = JSON.parse(await fs.readFile(path.join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  if (['preinstall', 'install', 'postinstall'].some((event) => hasEvent(pkg, event, dir))) return deferred.map((file) => file.path);
  const bins = (normalizeBins({ ...pkg }) as { bin?: Record<string, string> }).bin ?? {};
  const targets = new Set(Object.values(bins).map((target) => path.posix.join(location, path.posix.normalize(target))));
  const binDir = (pkg.directories as { bin?: unknown } | undefined)?.bin;
  const under = typeof binDir === 'string' ? `${path.posix.join(location, path.posix.normalize(binDir))}/` : undefined;
  return deferred.map((file) => file.path).filter((rel) => targets.has(rel) || (under !== undefined && rel.startsWith(under)));
}

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const NOT_LINKABLE = new Set(['EMLINK', 'EXDEV', 'EPERM', 'ENOENT']);

/**
 * Make the deferred files of extraction: a hardlink to the earlier release's file (never opened for
 * writing, never chmod'ed), or where it must be private or a link is impossible (EMLINK, EPERM…), a
 * copy of it written as the tarball would have (O_EXCL|O_NOFOLLOW, its own mode), read back from the
 * source and checked against the tarball's sha256: a changed source is refused, never copied.
 */
export async function linkExtracted(pkgDir: string, previous: PreviousRelease, extracted: Pick<Extracted, 'deferred' | 'private'>): Promise<Linked> {
  const toLink = extracted.deferred.filter((file) => !extracted.private.has(file.path));
  const copies = extracted.deferred.filter((file) => extracted.private.has(file.path));
  const allSources = [...new Set(toLink.map((file) => file.source))];
  const inodes = await statSources(allSources);
  const linked: SharedFile[] = [];
  const sources = previous.immutable ? allSources : [];
  await withImmutableCleared(sources, () =>
    mapLimit(toLink, LINK_PARALLELISM, async (file) => {
      try {
        await fs.link(file.source, path.join(pkgDir, file.path));
        linked.push({ path: file.path, sha256: file.sha256, size: file.size });
      } catch (error) {
        if (!NOT_LINKABLE.has(errnoOf(error) ?? '')) throw error;
        copies.push(file);
      }
    }),
  );
  await mapLimit(copies, LINK_PARALLELISM, (file) => copyChecked(pkgDir, file));
  return { files: linked, inodes };
}

async function copyChecked(pkgDir: string, file: DeferredFile): Promise<void> {
  const bytes = await fs.readFile(file.source).catch(() => undefined);
  if (!bytes || createHash('sha256').update(bytes).digest('hex') !== file.sha256) {
    throw new ReleaseSwitcherError('RELEASE_TAMPERED', `${file.source} no longer holds what its release's manifest says (needed for ${file.path}).`, {
      hint: `Run release-switcher doctor; reinstall or prune the release that holds it. Nothing was installed.`,
    });
  }
  const handle = await fs.open(path.join(pkgDir, file.path), WRITE_FLAGS, file.mode);
  try {
    await handle.writeFile(bytes);
    if (((await handle.stat()).mode & 0o777) !== file.mode) await handle.chmod(file.mode);
  } finally {
    await handle.close();
  }
}

export async function writeTreeRecord(pkgDir: string, root: TreeNode, deps: TreeNode[]): Promise<void> {
  const packages: Record<string, unknown> = {};
  for (const node of [...deps].sort((a, b) => a.location.localeCompare(b.location))) {
    packages[node.location] = { version: node.version, resolved: node.resolved, integrity: node.integrity, ...(node.hasInstallScript ? { hasInstallScript: true } : {}) };
  }
  await fs.mkdir(path.join(pkgDir, 'node_modules'), { recursive: true });
  await fs.writeFile(path.join(pkgDir, TREE_RECORD), `${JSON.stringify({ name: root.name, version: root.version, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
}
