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

/** Entries of one package in a manifest: under its location, not inside its own node_modules. */
function entriesOf(files: ManifestEntry[], location: string): ManifestEntry[] {
  const prefix = `${location}/`;
  return files.filter((entry) => entry.path.startsWith(prefix) && !entry.path.startsWith(`${prefix}node_modules/`));
}

export interface LinkedSet {
  known: Map<string, KnownHash>;
  /** Linked files and the ctime they had right after linking. */
  files: { abs: string; rel: string; ctimeNs: bigint }[];
  packages: number;
  bytes: number;
}

/** `beforeSeal` runs while the linked inodes are still writable (bin links chmod their targets). */
export async function linkPackages(pkgDir: string, previous: PreviousRelease, nodes: TreeNode[], beforeSeal: () => Promise<void>): Promise<LinkedSet> {
  const out: LinkedSet = { known: new Map(), files: [], packages: nodes.length, bytes: 0 };
  const entries = nodes.flatMap((node) => [{ path: node.location, type: 'dir' } as ManifestEntry, ...entriesOf(previous.files, node.location)]);
  for (const entry of entries) if (entry.type === 'dir') await fs.mkdir(path.join(pkgDir, entry.path), { recursive: true });
  // link(2) to an immutable inode is EPERM even for root: clear the attribute on exactly the inodes
  // linked to, under the root's lock, and set it again before any script runs (the caller's
  // rebaseline then records the ctime that leaves).
  const sources = previous.immutable ? entries.filter((entry) => entry.type === 'file').map((entry) => path.join(previous.dir, entry.path)) : [];
  await setImmutablePaths(sources, false);
  try {
    await mapLimit(entries, LINK_PARALLELISM, async (entry) => {
      const abs = path.join(pkgDir, entry.path);
      if (entry.type === 'link') await fs.symlink(entry.target, abs);
      if (entry.type !== 'file') return;
      await fs.link(path.join(previous.dir, entry.path), abs);
      const stat = await fs.stat(abs, { bigint: true });
      out.known.set(entry.path, { ino: stat.ino, size: stat.size, ctimeNs: stat.ctimeNs, sha256: entry.sha256 });
      out.files.push({ abs, rel: entry.path, ctimeNs: stat.ctimeNs });
      out.bytes += entry.size;
    });
    await beforeSeal();
  } finally {
    await setImmutablePaths(sources, true);
  }
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

/** Take the ctimes to compare against now (after our own bin links chmodded some targets). */
export async function rebaseline(linked: LinkedSet): Promise<void> {
  await mapLimit(linked.files, LINK_PARALLELISM, async (file) => {
    file.ctimeNs = (await fs.stat(file.abs, { bigint: true })).ctimeNs;
    const known = linked.known.get(file.rel);
    if (known) known.ctimeNs = file.ctimeNs;
  });
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
    await mapLimit(nodes, 4, async (node) => {
      if (failure) return;
      try {
        await extractOne(node);
      } catch (error) {
        failure ??= { error };
      }
    });
    if (failure) throw failure.error;
    async function extractOne(node: TreeNode): Promise<void> {
      options.signal?.throwIfAborted();
      const file = path.join(tmp, `${seq++}.tgz`);
      await pacote.tarball.file(node.resolved!, file, { ...options.pacoteOptions, integrity: node.integrity ?? undefined, resolved: node.resolved ?? undefined });
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
