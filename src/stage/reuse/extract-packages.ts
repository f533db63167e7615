/**
 * The fast path's new packages: extracted from the npm cache, except the files the previous release
 * holds byte for byte with the same sealed mode, which are handed back to be hardlinked
 * (link-previous.ts linkExtracted) unless they must be private copies.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import normalizeBins from 'npm-normalize-package-bin';
// Before pacote loads: sigstore only when provenance is verified.
import '../../registry/lazy-pacote.js';
import pacote from 'pacote';
import { withNetworkDeadline } from '../../registry/network.js';
import type { KnownHash } from '../../store/manifest.js';
import { mapLimit } from '../../platform/tree.js';
import type { TreeNode } from '../resolve/resolve-tree.js';
import type { PreviousRelease } from './tree-record.js';
import { hasEvent } from '../scripts/dep-scripts.js';
import { type DeferredFile, unpack } from '../unpack/index.js';
import { linkableIn } from '../unpack/linkable.js';
import { readPackageJson } from '../../platform/package-json.js';

export interface ExtractPackagesOptions {
  pkgDir: string;
  pacoteOptions: Record<string, unknown>;
  signal?: AbortSignal | undefined;
  /** The release files are linked from (see linkableIn); none: every file is written. */
  previous?: PreviousRelease | undefined;
  /** Whether a package's tarball was fetched into the cache while the tree resolved, once that download ended (fetch-ahead.ts). */
  fetchedAhead?: ((node: TreeNode) => Promise<boolean>) | undefined;
}

export interface ExtractedPackages {
  files: number;
  bytes: number;
  /** Of the packages, those whose tarball was fetched while the tree resolved. */
  fetchedAhead: number;
  known: Map<string, KnownHash>;
  /** Files not written: the previous release holds them byte for byte (linkExtracted links them). */
  deferred: DeferredFile[];
  /** Of those, the paths that must be private copies after all (bin targets, packages with install scripts). */
  private: Set<string>;
}

/**
 * Unpack new packages from the npm cache (pacote checks the integrity; a cache miss fetches). Each
 * tarball goes through a file: a streamed cache read that fails midway emits an error nobody can
 * catch in pacote 21, and a file lets pacote retry from the registry.
 */
export async function extractPackages(nodes: TreeNode[], options: ExtractPackagesOptions): Promise<ExtractedPackages> {
  let files = 0;
  let bytes = 0;
  let fetchedAhead = 0;
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
    const ordered = [...nodes].sort(
      (a, b) => a.location.split('/node_modules/').length - b.location.split('/node_modules/').length,
    );
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
      if (await options.fetchedAhead?.(node)) fetchedAhead++;
      await withNetworkDeadline(
        {
          npmConfig: options.pacoteOptions as Record<string, string>,
          signal: options.signal,
          what: `downloading ${node.resolved}`,
        },
        (signal) =>
          pacote.tarball.file(node.resolved!, file, {
            ...options.pacoteOptions,
            signal,
            integrity: node.integrity ?? undefined,
            resolved: node.resolved ?? undefined,
          }),
      );
      for (
        let at = node.location.indexOf('/node_modules/');
        at >= 0;
        at = node.location.indexOf('/node_modules/', at + 1)
      ) {
        await done.get(node.location.slice(0, at));
      }
      // A package that runs install scripts gets private files: a script may rewrite its own files in
      // place, which through a shared inode would write into the earlier release. Its package.json is
      // read below, so it is always written.
      const ownJson = `${node.location}/package.json`;
      const canLink =
        linkable && !node.hasInstallScript
          ? (rel: string, entry: { sha256: string; mode: number; size: number }) =>
              rel === ownJson ? undefined : linkable(rel, entry)
          : undefined;
      const dest = path.join(options.pkgDir, node.location);
      const result = await unpack({
        tarball: file,
        dest,
        location: node.location,
        signal: options.signal,
        ...(canLink ? { linkable: canLink } : {}),
      });
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
  return { files, bytes, fetchedAhead, known, deferred, private: privateCopies };
}

/**
 * Of a package's deferred files, those that must be private copies: every one when the package runs
 * an install script after all (node-gyp's implicit one included), else its bin targets (bin-links
 * chmods them), and anything below `directories.bin`.
 */
async function mustBePrivate(dir: string, location: string, deferred: readonly DeferredFile[]): Promise<string[]> {
  const pkg = await readPackageJson(dir);
  if (['preinstall', 'install', 'postinstall'].some((event) => hasEvent(pkg, event, dir)))
    return deferred.map((file) => file.path);
  const bins = (normalizeBins({ ...pkg }) as { bin?: Record<string, string> }).bin ?? {};
  const targets = new Set(Object.values(bins).map((target) => path.posix.join(location, path.posix.normalize(target))));
  const binDir = (pkg.directories as { bin?: unknown } | undefined)?.bin;
  const under = typeof binDir === 'string' ? `${path.posix.join(location, path.posix.normalize(binDir))}/` : undefined;
  return deferred
    .map((file) => file.path)
    .filter((rel) => targets.has(rel) || (under !== undefined && rel.startsWith(under)));
}
