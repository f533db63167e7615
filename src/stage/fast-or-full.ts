/**
 * How a staged package gets its dependencies: the fast path (link what the previous release has,
 * extract only what is new) when the tree allows it, else, or when the fast path is given up midway,
 * today's full `npm install` on a freshly unpacked package. The decision and its fallback live here so
 * staging reads as one line per step.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isReleaseSwitcherError } from '../model/errors.js';
import type { ProgressEvent, ResolvedRuntime } from '../model/runtime.js';
import type { NodeRuntime } from '../platform/node.js';
import type { LinkedInode } from '../store/fingerprints.js';
import { removeTreeKeepingReleases } from '../store/immutable-release.js';
import type { Layout } from '../store/layout.js';
import type { KnownHash } from '../store/manifest.js';
import { type DependencyOptions, installDependencies, runLifecycle } from './dependencies.js';
import { scriptEnv } from './scripts/dep-scripts.js';
import { bundledPackages } from './bundled-packages.js';
import { NOTHING_REUSED, type Reused, buildTree, fallbackReason, sharedWrites } from './fast.js';
import type { Linked } from './reuse/shared-inodes.js';
import { type PlacingBeside, discard, moveInto, placeBeside } from './place-beside.js';
import type { ResolvedTree } from './resolve/resolve-tree.js';
import type { FromStore } from './reuse/from-store.js';
import { previousRelease } from './reuse/tree-record.js';
import { unpack } from './unpack/index.js';

/** Top-level entries that npm install (or our hiding of scripts from it) writes while it runs. */
export const NPM_WRITES: readonly string[] = [
  'node_modules',
  'package.json',
  'package-lock.json',
  'npm-shrinkwrap.json',
];

/** A path of the main package npm rewrites while it installs: its hash is taken at the manifest, not at unpack. */
export function isNpmWrite(rel: string): boolean {
  return NPM_WRITES.includes(rel.split('/')[0]!);
}

export interface DependencyStep {
  layout: Layout;
  runtime: ResolvedRuntime;
  /**
   * Releases to share identical files with, newest first: the first with a tree record is linked from, else the first
   * (an adopted one) by content alone (tree-record.ts previousRelease).
   */
  earlier: readonly string[];
  /** The resolved tree; undefined when none was resolved (full install). */
  tree: ResolvedTree | undefined;
  pkgDir: string;
  /** The main package's tarball, unpacked afresh when the fast path is given up. */
  tarball: string;
  /** Makes sure `tarball` is there (downloaded only when needed: the package may have come from the store). */
  fetchTarball: () => Promise<void>;
  /** The main package's files, when linked from the store (from-store.ts mainFromStore) rather than unpacked. */
  mainStored?: FromStore | undefined;
  /** The main package's files its unpack linked to the previous (immutable) release instead of writing them. */
  mainLinked?: Linked | undefined;
  packageJson: Record<string, unknown>;
  depOptions: DependencyOptions;
  /** pacote's options (flatNpmOptions). */
  flat: Record<string, unknown>;
  node: NodeRuntime;
  /** The main package's files' hashes from its unpack. */
  unpacked: ReadonlyMap<string, KnownHash>;
  /** The tree's packages, placed beside the package while it unpacked (place-beside.ts). */
  beside?: PlacingBeside | undefined;
}

export interface DependencyOutcome {
  known: ReadonlyMap<string, KnownHash>;
  /** Files hardlinked to the previous release (not deduped or chmodded again). */
  shared: Set<string>;
  /** Of those, the ones whose inodes carry the immutable attribute (the previous release is immutable). */
  sharedImmutable: Set<string>;
  /** The previous release's inodes linked to, before the first link. */
  inodes: Map<string, LinkedInode>;
  reused: Reused;
  /** Why the fast path was not used, or null. */
  fallback: string | null;
  /** Files linked from the store: the new release records no fingerprint for them (fast.ts FastResult says why). */
  unproven?: Set<string>;
  /** Where the packages linked from the store are (fast.ts FastResult). */
  storedAt?: Set<string>;
}

/** The fast path if the tree allows it and it holds to the end, else a full install; which one, and why. */
export async function installFastOrFull(step: DependencyStep): Promise<DependencyOutcome> {
  const { tree, runtime } = step;
  const progress = runtime.onProgress;
  const reason = tree ? await fallbackReason(tree, step.pkgDir) : 'its dependency tree was not resolved';
  // Placed beside on what the tree told; the package's own files (its npm-shrinkwrap.json) may say otherwise.
  if (reason && step.beside) await discard(step.layout, step.beside);
  let outcome: DependencyOutcome | undefined;
  if (tree && !reason) {
    outcome = await fastPath({ ...step, tree });
    outcome = { ...outcome, known: new Map([...step.unpacked, ...outcome.known]) };
  }
  if (!outcome || outcome.fallback) {
    const why = outcome?.fallback ?? reason!;
    // npm never runs on the store's links, nor on an immutable release's: a main package with either is unpacked afresh.
    const own =
      outcome?.fallback || step.mainStored || step.mainLinked
        ? await resetPackage(step.layout, {
            pkgDir: step.pkgDir,
            tarball: step.tarball,
            fetchTarball: step.fetchTarball,
            signal: runtime.signal,
          })
        : step.unpacked;
    progress({ phase: 'dependencies', message: `full install: ${why}` });
    await fullInstall(step.depOptions, step.packageJson, progress);
    outcome = {
      known: own,
      shared: new Set(),
      sharedImmutable: new Set(),
      inodes: new Map(),
      reused: NOTHING_REUSED,
      fallback: why,
    };
  }
  return outcome;
}

/** Unpack the main package afresh (after a fast path that was given up); its files' hashes. */
async function resetPackage(
  layout: Layout,
  work: { pkgDir: string; tarball: string; fetchTarball: () => Promise<void>; signal: AbortSignal | undefined },
): Promise<Map<string, KnownHash>> {
  const { pkgDir, tarball, signal } = work;
  // Links into immutable releases: their removal clears the attribute, which is then set again.
  await removeTreeKeepingReleases(layout, pkgDir);
  await work.fetchTarball();
  return (await unpack({ tarball, dest: pkgDir, signal, skipKnown: isNpmWrite })).known;
}

/** Today's way: `npm install --omit=dev` in the package, then the package's own lifecycle scripts. */
async function fullInstall(
  depOptions: DependencyOptions,
  packageJson: Record<string, unknown>,
  progress: (event: ProgressEvent) => void,
): Promise<void> {
  progress({ phase: 'dependencies', message: `installing dependencies with Node ${depOptions.node.version}` });
  await installDependencies(depOptions, packageJson);
  const ran = await runLifecycle(depOptions, packageJson);
  progress({ phase: 'lifecycle', message: ran.length ? `ran ${ran.join(', ')}` : 'no lifecycle scripts' });
}

/**
 * The fast path to its end (the package's own lifecycle scripts included), or why it was given up once it
 * had started: a script failed while files were shared with an immutable release, or one wrote through a
 * shared inode.
 */
async function fastPath(args: DependencyStep & { tree: ResolvedTree }): Promise<DependencyOutcome> {
  const { runtime, tree, pkgDir } = args;
  const beside =
    args.beside ??
    placeBeside({
      layout: args.layout,
      work: path.dirname(pkgDir),
      tree,
      previous: await previousRelease(args.layout, args.earlier),
      pacoteOptions: args.flat,
      signal: runtime.signal,
    });
  const previous = beside.previous;
  const npmConfig = runtime.npmConfig;
  let result: Awaited<ReturnType<typeof buildTree>> | undefined;
  let ran: string[];
  try {
    // Before anything else writes into node_modules: what is there came in the package's own tarball.
    const bundled = await bundledPackages(pkgDir);
    const moved = await moveInto(args.layout, beside, pkgDir);
    if ('clash' in moved)
      return fellBack(`the package's tarball brings ${moved.clash}, where its tree places a dependency`);
    result = await buildTree({
      pkgDir,
      tree,
      placed: moved,
      bundled,
      progress: runtime.onProgress,
      signal: runtime.signal,
      scriptEnv: scriptEnv(runtime.env, { nodePath: args.node.path, npmConfig, npmCache: runtime.npmCache }),
      nodePath: args.node.path,
      ignoreScripts: npmConfig['ignore-scripts'] === 'true',
      mainStored: args.mainStored,
      mainLinked: args.mainLinked,
    });
    ran = npmConfig['ignore-scripts'] === 'true' ? [] : await runLifecycle(args.depOptions, args.packageJson);
  } catch (error) {
    // Files linked from an immutable release refuse every write, a script's too (EPERM, even as root), and so do
    // the main package's files linked from the store, which have no write bits (EACCES), where npm's own would:
    // a script that failed may have tried to write into one. It runs again on private copies; a
    // script that is simply broken fails there as well, and that error is the one reported.
    const shared = previous?.immutable || args.mainStored;
    if (!shared || !isReleaseSwitcherError(error) || error.code !== 'DEPENDENCY_INSTALL_FAILED') throw error;
    // A script that made a store file writable and wrote part of it before it failed: that file leaves the store too.
    if (result) await dropFromStore(pkgDir, await sharedWrites(result), result.storeSources);
    return fellBack(
      `a lifecycle script failed while files were shared with ${previous?.immutable ? `the immutable release ${path.basename(previous.dir)}` : 'the store'} (${error.message.split('\n')[0]})`,
    );
  }
  runtime.onProgress({ phase: 'lifecycle', message: ran.length ? `ran ${ran.join(', ')}` : 'no lifecycle scripts' });
  const moved = await sharedWrites(result);
  if (moved.length > 0) await dropFromStore(pkgDir, moved, result.storeSources);
  if (moved.length > 0)
    return fellBack(
      `a lifecycle script wrote into ${moved.length} file(s) shared with an earlier release or the store (${moved.slice(0, 3).join(', ')}); the store no longer names them, and a release that shares them fails verify-release until reinstalled`,
    );
  const shared = new Set(result.linked?.known.keys() ?? []);
  return {
    known: result.known,
    shared,
    sharedImmutable: result.alreadyImmutable,
    unproven: result.unproven,
    storedAt: result.storedAt,
    inodes: result.inodes,
    reused: result.reused,
    fallback: null,
  };
}

/**
 * A script wrote through files linked from the store: their store names no longer hold what they say, so they
 * are taken out (the index naming them is then incomplete, and never linked from again until a staging puts
 * them back; `doctor --deep` names any release that shares such an inode).
 */
async function dropFromStore(pkgDir: string, moved: readonly string[], sources: ReadonlyMap<string, string>) {
  const names = moved
    .map((abs) => sources.get(path.relative(pkgDir, abs)))
    .filter((source): source is string => source !== undefined);
  await Promise.all(names.map((name) => fs.rm(name, { force: true }).catch(() => undefined)));
}

/** The fast path given up once started: why (installFastOrFull then unpacks the package afresh for a full install). */
function fellBack(why: string): DependencyOutcome {
  return {
    known: new Map(),
    shared: new Set(),
    sharedImmutable: new Set(),
    inodes: new Map(),
    reused: NOTHING_REUSED,
    fallback: why,
  };
}
