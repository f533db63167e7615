/**
 * The fast path of staging: the tree's packages placed (place-packages.ts: linked from a retained release
 * where unchanged, extracted where new; beside the package while it unpacks, place-beside.ts), then,
 * once they are in the package: the baseline of the shared inodes, the tree record, the dependency
 * scripts, and the check that no shared inode moved. treeFallbackReason says, before anything is
 * placed, when the tree needs a full `npm install` instead (fallbackReason adds the package's own
 * npm-shrinkwrap.json, known once it is unpacked: what was placed is then removed unused).
 */
import path from 'node:path';
import { pathExists } from '../platform/fs.js';
import type { ProgressEvent } from '../model/runtime.js';
import type { KnownHash } from '../store/manifest.js';
import type { LinkedInode } from '../store/fingerprints.js';
import type { Placed } from './place-packages.js';
import { writeTreeRecord } from './reuse/tree-record.js';
import { type Linked, type LinkedSet, baseline, movedInodes } from './reuse/shared-inodes.js';
import type { FromStore } from './reuse/from-store.js';
import type { ResolvedTree, TreeNode } from './resolve/resolve-tree.js';
import { runDepScripts } from './scripts/dep-scripts.js';

export interface Reused {
  packages: number;
  files: number;
  bytes: number;
  /** Of those, the ones linked (or, across filesystems, copied) from the root's content-addressed store. */
  store?: { packages: number; files: number; bytes: number; copied: number };
}

export const NOTHING_REUSED: Reused = { packages: 0, files: 0, bytes: 0 };

/** Why the fast path does not handle this tree, or undefined. */
export async function fallbackReason(tree: ResolvedTree, pkgDir: string): Promise<string | undefined> {
  return (
    treeFallbackReason(tree) ??
    ((await pathExists(path.join(pkgDir, 'npm-shrinkwrap.json')))
      ? 'the package has an npm-shrinkwrap.json'
      : undefined)
  );
}

/** Why the fast path does not handle this tree, as far as the tree alone tells (not the package's own files). */
export function treeFallbackReason(tree: ResolvedTree): string | undefined {
  if (tree.root.hasShrinkwrap) return 'the package has an npm-shrinkwrap.json';
  for (const node of tree.deps) {
    if (node.location.startsWith('../')) return `${node.name} would be installed beside the package`;
    if (node.isLink || !node.resolved || !/^https?:/.test(node.resolved) || !node.integrity)
      return `${node.name} is not a registry dependency (${node.resolved ?? 'no source'})`;
    if (node.inBundle) return `${node.name} is bundled inside a dependency`;
  }
  return undefined;
}

export interface FastInput {
  pkgDir: string;
  tree: ResolvedTree;
  /** The tree's packages, already in pkgDir's node_modules/ (placed beside the package, then moved in). */
  placed: Placed;
  /** The packages the package's own tarball brought (bundledPackages, read before `placed` moved in). */
  bundled: TreeNode[];
  scriptEnv: Record<string, string>;
  nodePath: string;
  ignoreScripts: boolean;
  progress: (event: ProgressEvent) => void;
  signal?: AbortSignal | undefined;
  /** The main package's files, when they were linked from the store rather than unpacked (from-store.ts mainFromStore). */
  mainStored?: FromStore | undefined;
  /** The main package's files its unpack linked to the previous release (immutable) instead of writing them. */
  mainLinked?: Linked | undefined;
}

export interface FastResult {
  known: Map<string, KnownHash>;
  /** Every file hardlinked to the previous release: reused packages' and extracted ones identical to it. */
  linked: LinkedSet | undefined;
  /** The previous release's inodes linked to, before the first link (for refreshAfterLinks). */
  inodes: Map<string, LinkedInode>;
  reused: Reused;
  /** Files linked to inodes that carry the immutable attribute already. */
  alreadyImmutable: Set<string>;
  /** Files linked from the store: their hash is the store's word, checked at the first activation (no fingerprint). */
  unproven: Set<string>;
  /** The store file each of those was linked from. */
  storeSources: Map<string, string>;
  /** Linked files a script may remove: the main package's own (movedInodes). */
  mayGo: Set<string>;
  /** Where the packages linked from the store are: the store holds them whole (no need to check again once sealed). */
  storedAt: Set<string>;
}

export async function buildTree(input: FastInput): Promise<FastResult> {
  const { tree, progress, pkgDir, bundled } = input;
  input.signal?.throwIfAborted();
  const { fresh, ...result } = await settlePlaced(pkgDir, input.placed, progress, {
    stored: input.mainStored,
    linked: input.mainLinked,
  });
  await writeTreeRecord(pkgDir, tree);
  // npm builds the packages bundled in the tarball like any other (arborist's rebuildBundle): bins, scripts.
  const ran = await runDepScripts([...fresh, ...bundled], {
    pkgDir,
    env: input.scriptEnv,
    nodePath: input.nodePath,
    ignoreScripts: input.ignoreScripts,
    signal: input.signal,
    // The package's own tarball brought these: linked from the store with it, their bin targets already executable.
    linkedBins: input.mainStored ? new Set(bundled.map((node) => node.location)) : undefined,
  });
  progress({ phase: 'scripts', message: ran.length ? `ran ${ran.join(', ')}` : 'no dependency scripts' });
  // Scripts may rewrite an extracted file: computeManifest re-hashes any whose inode moved since.
  return result;
}

/** The placed packages, now in pkgDir: the baseline of every file shared with the previous release, and progress. */
async function settlePlaced(
  pkgDir: string,
  placed: Placed,
  progress: (event: ProgressEvent) => void,
  own: { stored: FromStore | undefined; linked: Linked | undefined },
): Promise<FastResult & { fresh: TreeNode[] }> {
  const { usable, reuse, fresh, extracted, reusedLinks, same, stored } = placed;
  const main = own.stored;
  const fromStore = [...(stored?.links.files ?? []), ...(main?.files ?? [])];
  const ownLinked = own.linked?.files ?? [];
  const shared = [...(reusedLinks?.files ?? []), ...(same?.files ?? []), ...fromStore, ...ownLinked];
  // Taken once every link of this staging is made: the main package's were made first, and a dependency's file
  // of the same content links the same store inode (a link moves its ctime).
  const linked = shared.length > 0 ? await baseline(pkgDir, shared, reuse.length) : undefined;
  // The first state of an inode wins: the main package's links came first, a reused package's before an extracted file's
  // (those the unpack deferred were linked after the placement had started: theirs loses to any other).
  const inodes = new Map([
    ...(own.linked?.inodes ?? []),
    ...(stored?.links.inodes ?? []),
    ...(same?.inodes ?? []),
    ...(reusedLinks?.inodes ?? []),
    ...(main?.inodes ?? []),
  ]);
  const reusedBytes = (reusedLinks?.files ?? []).reduce((sum, file) => sum + file.size, 0);
  const storeUse = (stored || main) && {
    packages: (stored?.nodes.length ?? 0) + (main ? 1 : 0),
    files: fromStore.length + (stored?.links.copied ?? 0) + (main?.copied ?? 0),
    bytes: (stored?.links.bytes ?? 0) + (main?.bytes ?? 0),
    copied: (stored?.links.copied ?? 0) + (main?.copied ?? 0),
  };
  const reused: Reused =
    reusedLinks || storeUse
      ? {
          packages: (reusedLinks ? reuse.length : 0) + (storeUse?.packages ?? 0),
          files: (reusedLinks?.files.length ?? 0) + (storeUse?.files ?? 0),
          bytes: reusedBytes + (storeUse?.bytes ?? 0),
          ...(storeUse ? { store: storeUse } : {}),
        }
      : NOTHING_REUSED;
  if (storeUse)
    progress({
      phase: 'reuse',
      message: `${storeUse.packages} packages (${storeUse.files} files, ${storeUse.bytes} bytes) linked from the store${storeUse.copied > 0 ? `; ${storeUse.copied} files copied from it instead (the store is on another filesystem than staging, an inode has all the links it may have, or, for the package's own files, an earlier release's inode that is not immutable)` : ''}`,
    });
  progress({
    phase: 'reuse',
    message: `${reusedLinks ? reuse.length : 0} packages (${reusedLinks?.files.length ?? 0} files, ${reusedBytes} bytes) linked from releases/${usable ? path.basename(usable.dir) : '-'}`,
    done: reusedBytes,
    total: reusedBytes,
    unit: 'bytes',
  });
  const sameBytes = (same?.files ?? []).reduce((sum, file) => sum + file.size, 0);
  progress({
    phase: 'extract',
    message: `${fresh.length} new packages extracted from the npm cache (${extracted.files} files; ${same?.files.length ?? 0} of them, ${sameBytes} bytes, identical to the previous release and linked to it; ${extracted.fetchedAhead} packages fetched into it while the tree resolved)`,
    done: extracted.bytes,
    total: extracted.bytes,
    unit: 'bytes',
  });
  const previousShared = usable?.immutable
    ? [...(reusedLinks?.files ?? []), ...(same?.files ?? [])].map((file) => file.path)
    : [];
  return {
    known: new Map([...extracted.known, ...(linked?.known ?? [])]),
    linked,
    inodes,
    reused,
    fresh,
    alreadyImmutable: new Set([
      ...previousShared,
      ...(stored?.links.immutable ?? []),
      ...(main?.immutable ?? []),
      // Linked only from an immutable release (link-previous.ts ownFilesLinkable).
      ...ownLinked.map((file) => file.path),
    ]),
    unproven: new Set(fromStore.map((file) => file.path)),
    storeSources: new Map([...(stored?.links.sources ?? []), ...(main?.sources ?? [])]),
    mayGo: new Set((main?.files ?? []).map((file) => file.path)),
    storedAt: new Set((stored?.nodes ?? []).map((node) => node.location)),
  };
}

/** Shared inodes that changed since they were linked (a script wrote through one). */
export async function sharedWrites(result: FastResult): Promise<string[]> {
  return result.linked ? movedInodes(result.linked, result.mayGo) : [];
}
