/**
 * The fast path's tree work: link unchanged packages from a retained release file by file, extract
 * the new ones from the npm cache, record the tree as npm's hidden lockfile does, and prove afterwards
 * that nothing wrote through a shared inode.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import pacote from 'pacote';
import type { KnownHash, ManifestEntry } from '../store/manifest.js';
import { setImmutablePaths } from '../platform/immutable.js';
import { mapLimit } from '../platform/tree.js';
import type { TreeNode } from './resolve-tree.js';
import { unpack } from './unpack-call.js';

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
  /** Linked files and the ctime they had once linking (bins, immutable attribute) was done. */
  files: { abs: string; rel: string; ctimeNs: bigint }[];
  packages: number;
  bytes: number;
}

/**
 * `beforeSeal` runs while the linked inodes are still writable (bin links chmod their targets).
 * Each linked file is stat'ed once, after that and after the immutable attribute is back: that
 * ctime is the baseline a later write through the inode would move.
 */
export async function linkPackages(pkgDir: string, previous: PreviousRelease, nodes: TreeNode[], beforeSeal: () => Promise<void>, wait?: { later: ReadonlySet<string>; until: Promise<unknown> }): Promise<LinkedSet> {
  const out: LinkedSet = { known: new Map(), files: [], packages: nodes.length, bytes: 0 };
  const byPackage = entriesByPackage(previous.files, new Set(nodes.map((node) => node.location)));
  const entriesFor = (list: TreeNode[]) => list.flatMap((node) => [{ path: node.location, type: 'dir' } as ManifestEntry, ...(byPackage.get(node.location) ?? [])]);
  const now = entriesFor(nodes.filter((node) => !wait?.later.has(node.location)));
  const later = entriesFor(nodes.filter((node) => wait?.later.has(node.location)));
  // link(2) to an immutable inode is EPERM even for root: clear the attribute on exactly the inodes
  // linked to, under the root's lock, and set it again before any script runs.
  const linkedFiles = [...now, ...later].filter((entry) => entry.type === 'file');
  const sources = previous.immutable ? linkedFiles.map((entry) => path.join(previous.dir, entry.path)) : [];
  const linkAll = async (entries: ManifestEntry[]) => {
    for (const entry of entries) if (entry.type === 'dir') await fs.mkdir(path.join(pkgDir, entry.path), { recursive: true });
    await mapLimit(entries, LINK_PARALLELISM, async (entry) => {
      const abs = path.join(pkgDir, entry.path);
      if (entry.type === 'link') await fs.symlink(entry.target, abs);
      if (entry.type === 'file') await fs.link(path.join(previous.dir, entry.path), abs);
    });
  };
  await setImmutablePaths(sources, false);
  try {
    await linkAll(now);
    if (later.length > 0) {
      // Packages nested inside a package being extracted: the unpacker wants its folder to itself.
      await wait!.until;
      await linkAll(later);
    }
    await beforeSeal();
  } finally {
    await setImmutablePaths(sources, true);
  }
  await mapLimit(linkedFiles, LINK_PARALLELISM, async (entry) => {
    const abs = path.join(pkgDir, entry.path);
    const stat = await fs.stat(abs, { bigint: true });
    out.known.set(entry.path, { ino: stat.ino, size: stat.size, ctimeNs: stat.ctimeNs, sha256: entry.sha256 });
    out.files.push({ abs, rel: entry.path, ctimeNs: stat.ctimeNs });
    out.bytes += entry.size;
  });
  return out;
}

/** Linked files whose inode changed since linking: something wrote through a shared inode. */
export async function movedInodes(linked: LinkedSet): Promise<string[]> {
  const moved: string[] = [];
  await mapLimit(linked.files, LINK_PARALLELISM, async ({ abs, ctimeNs }) => {
    const stat = await fs.stat(abs, { bigint: true }).catch(() => undefined);
    if (!stat || stat.ctimeNs !== ctimeNs) moved.push(abs);
  });
  return moved;
}

export interface ExtractOptions {
  pkgDir: string;
  pacoteOptions: Record<string, unknown>;
  signal?: AbortSignal | undefined;
}

/**
 * Unpack new packages from the npm cache (pacote checks the integrity; a cache miss fetches). Each
 * tarball goes through a file: a streamed cache read that fails midway emits an error nobody can
 * catch in pacote 21, and a file lets pacote retry from the registry.
 */
export async function extractPackages(nodes: TreeNode[], options: ExtractOptions): Promise<{ files: number; bytes: number; known: Map<string, KnownHash> }> {
  let files = 0;
  let bytes = 0;
  const known = new Map<string, KnownHash>();
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
      const result = await unpack({ tarball: file, dest: path.join(options.pkgDir, node.location), location: node.location, signal: options.signal });
      await fs.rm(file, { force: true });
      files += result.count;
      bytes += result.bytes;
      for (const [rel, hash] of result.known) known.set(rel, hash);
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  return { files, bytes, known };
}

export async function writeTreeRecord(pkgDir: string, root: TreeNode, deps: TreeNode[]): Promise<void> {
  const packages: Record<string, unknown> = {};
  for (const node of [...deps].sort((a, b) => a.location.localeCompare(b.location))) {
    packages[node.location] = { version: node.version, resolved: node.resolved, integrity: node.integrity, ...(node.hasInstallScript ? { hasInstallScript: true } : {}) };
  }
  await fs.mkdir(path.join(pkgDir, 'node_modules'), { recursive: true });
  await fs.writeFile(path.join(pkgDir, TREE_RECORD), `${JSON.stringify({ name: root.name, version: root.version, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
}
