/**
 * Staging: spec → verified tarball → safe extraction → dependencies and lifecycle with the
 * configured Node (fast-or-full.ts) → smoke check → manifest → dedupe → seal (seal-staged.ts), all
 * inside `staging/<id>/`. This file is the order of those steps; the caller renames the result into
 * `releases/<version>` and journals it; on any failure it deletes the folder.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import type { ResolvedRuntime } from '../model/runtime.js';
import { checkEngines, probeNode } from '../platform/node.js';
import type { NodeRuntime } from '../platform/node.js';
import { type ResolvedPackage, downloadTarball } from '../registry/fetch.js';
import { refuseUnsignedDependencies, withDependencies } from '../registry/signatures.js';
import type { Config } from '../store/config.js';
import type { LinkedInode } from '../store/fingerprints.js';
import type { Journal } from '../store/journal.js';
import type { Layout } from '../store/layout.js';
import type { ReleaseMarker } from '../store/manifest.js';
import { checkAllowScripts } from './scripts/allow-scripts.js';
import type { Reused } from './fast.js';
import { NPM_WRITES, installFastOrFull } from './fast-or-full.js';
import { treeFallbackReason } from './fast.js';
import { type PlacingBeside, discard, placeBeside } from './place-beside.js';
import { flatNpmOptions, type ResolvedTree } from './resolve/resolve-tree.js';
import { resolutionOf, resolvePackageTree } from './resolve/package-tree.js';
import type { TreeAhead } from './resolve/tree-ahead.js';
import { sealStaged } from './seal-staged.js';
import { earlySyntaxCheck, reachCheck, smokeCheck } from './smoke.js';
import { type MainUnpack, unpackOffThread } from './unpack/off-thread.js';
import { type FromStore, mainFromStore } from './reuse/from-store.js';
import { type PreviousRelease, linkableRelease, previousRelease, recordedNames } from './reuse/tree-record.js';
import { linkOwnDeferred, ownFilesLinkable } from './reuse/link-previous.js';
import type { Linked } from './reuse/shared-inodes.js';
import { FetchAhead } from './reuse/fetch-ahead.js';
import { readPackageJson as readPackageJsonAt } from '../platform/package-json.js';
import { withoutCredentials } from '../store/config.js';

export interface StageInput {
  layout: Layout;
  config: Config;
  runtime: ResolvedRuntime;
  journal: Journal;
  pkg: ResolvedPackage;
  stagingId: string;
  /** Releases to share identical files with, newest first. */
  earlier: string[];
  /** The tree guessed for the spec, revalidated while the package was fetched (resolve/tree-ahead.ts). */
  treeAhead?: TreeAhead | undefined;
}

export interface StagedRelease {
  dir: string;
  marker: ReleaseMarker;
  linkedBytes: number;
  /** Earlier releases' inodes dedupe linked to (their fingerprints are carried once the release is sealed). */
  inodes: Map<string, LinkedInode>;
  /** Paths linked to an immutable release's inodes: they carry the attribute already. */
  alreadyImmutable: Set<string>;
  reused: Reused;
  /** Why the fast path was not used, or null. */
  fallback: string | null;
}

export async function stageRelease(input: StageInput): Promise<StagedRelease> {
  const { layout, config, runtime, pkg } = input;
  await fs.mkdir(layout.stagingDir(input.stagingId), { recursive: true });

  // Read beside the resolution, not before it: only the placement needs it whole.
  const previous = previousRelease(layout, input.earlier);
  previous.catch(() => undefined);
  const [node, seeds] = await Promise.all([
    probeNode(config.node ?? process.execPath, runtime.env),
    recordedNames(layout, input.earlier),
  ]);
  const flat = flatNpmOptions(runtime.npmConfig, runtime.npmCache, config.registry);
  // Resolution (in process, or a child on a configured Node of another major) is the longest step before reuse can start: it runs
  // while the main tarball is downloaded and unpacked (and its syntax checked), and is stopped if staging fails meanwhile.
  const stopSideWork = new AbortController();
  const sideSignal = runtime.signal ? AbortSignal.any([runtime.signal, stopSideWork.signal]) : stopSideWork.signal;
  // Meanwhile the new packages it will likely pick are downloaded into npm's cache, as the prefetch guesses them.
  const resolution = resolutionOf(pkg);
  const ahead = resolution
    ? new FetchAhead(path.join(layout.stagingDir(input.stagingId), 'ahead'), {
        pacoteOptions: flat,
        previous: previous.then((release) => linkableRelease(release, node.version)),
        signal: sideSignal,
      })
    : undefined;
  // The tree kept for the package, told once it is read (before it is known to hold), or nothing once the resolution ends.
  let toldKept!: (tree: ResolvedTree | undefined) => void;
  const keptGuess = new Promise<ResolvedTree | undefined>((resolve) => {
    toldKept = resolve;
  });
  const treeP = resolution
    ? resolvePackageTree({
        pkg,
        resolution,
        runtime,
        registry: config.registry,
        node,
        scratch: path.join(layout.stagingDir(input.stagingId), 'resolve'),
        seeds,
        signal: sideSignal,
        onGuess: (guess) => ahead?.offer(guess),
        treeAhead: input.treeAhead,
        onKept: toldKept,
      })
    : Promise.resolve(undefined);
  treeP.then(
    () => toldKept(undefined),
    () => toldKept(undefined),
  );
  try {
    return await stageResolving(input, { node, flat, treeP, keptGuess, sideSignal, previous, ahead });
  } finally {
    stopSideWork.abort();
    // Nothing writes in the staging folder once staging returns: the caller renames or removes it.
    await ahead?.stop();
  }
}

async function stageResolving(
  input: StageInput,
  resolving: {
    node: NodeRuntime;
    flat: Record<string, unknown>;
    treeP: Promise<ResolvedTree | undefined>;
    /** The tree kept for the package once it is read, before it is known to hold; undefined once `treeP` settled without one. */
    keptGuess: Promise<ResolvedTree | undefined>;
    /** Aborted when staging ends: work started beside the resolution stops with it. */
    sideSignal: AbortSignal;
    /** The earlier release placePackages links from (tree-record.ts previousRelease: one with a tree record first). */
    previous: Promise<PreviousRelease | undefined>;
    ahead: FetchAhead | undefined;
  },
): Promise<StagedRelease> {
  const { layout, config, runtime, pkg } = input;
  const { flat, treeP } = resolving;
  const progress = runtime.onProgress;
  const work = layout.stagingDir(input.stagingId);
  const pkgDir = path.join(work, 'package');
  const tarball = path.join(work, 'package.tgz');
  const checkAbort = () => runtime.signal?.throwIfAborted();
  // The store holds the package's tarball whole (linked from it, nothing downloaded or unpacked), or it is fetched.
  const mainStored = await mainFromStore(layout, pkg.integrity, pkgDir);
  const fetchTarball = async () => {
    progress({
      phase: 'download',
      message: `fetching ${pkg.name}@${pkg.version} from ${pkg.resolved}`,
      total: pkg.manifest.dist?.unpackedSize,
      unit: 'bytes',
    });
    const fetched = await downloadTarball(pkg, tarball, { config, runtime, where: layout.root });
    const downloaded = (await fs.stat(tarball)).size;
    progress({
      phase: 'download',
      message: `fetched, integrity ${fetched.slice(0, 20)}…`,
      done: downloaded,
      total: downloaded,
      unit: 'bytes',
    });
    return fetched;
  };
  let integrity: string;
  let unpacking: Promise<MainUnpack>;
  if (mainStored) {
    integrity = pkg.integrity!;
    progress({
      phase: 'extract',
      message: `${pkg.name}@${pkg.version} linked from the store (${mainStored.count} files, ${mainStored.bytes} bytes): nothing downloaded or unpacked`,
    });
    unpacking = Promise.resolve({
      known: new Map(),
      count: mainStored.count,
      bytes: mainStored.bytes,
      entries: [],
      deferred: [],
    });
  } else {
    integrity = await fetchTarball();
    checkAbort();
    // One pass checks, writes and hashes each entry; the package's own files need no hashing later
    // (what npm rewrites, NPM_WRITES, is hashed at the manifest). On a thread of its own: the
    // resolution runs on this one meanwhile (off-thread.ts).
    unpacking = unpackOffThread({
      tarball,
      dest: pkgDir,
      signal: runtime.signal,
      skipTop: NPM_WRITES,
      fileCount: pkg.manifest.dist?.fileCount,
      linkFrom: ownFilesLinkable(await resolving.previous.catch(() => undefined)),
      onEntry: (count) =>
        progress({
          phase: 'extract',
          message: `${count} entries written`,
          done: count,
          total: pkg.manifest.dist?.fileCount,
          unit: 'files',
        }),
    });
    unpacking.catch(() => undefined);
  }
  const main: MainSource = mainStored
    ? { stored: mainStored.links, fetchTarball: async () => void (await fetchTarball()) }
    : { tarball: { integrity: pkg.integrity ?? integrity, tarball }, fetchTarball: async () => undefined };
  let beside: PlacingBeside | undefined;
  const placing = async (tree: ResolvedTree) =>
    placeBeside({
      layout,
      work,
      tree,
      previous: await resolving.previous,
      pacoteOptions: flat,
      signal: runtime.signal,
      fetchedAhead: resolving.ahead?.fetched.bind(resolving.ahead),
    });
  try {
    // A kept tree very likely holds: its packages are placed at once, while its packuments are still asked for.
    // Placing runs nothing of theirs (scripts wait for the tree that holds), and what it placed is discarded if the
    // tree given is another.
    const guess = await resolving.keptGuess;
    if (guess && placeable(guess, pkg)) {
      progress({
        phase: 'reuse',
        message: `placing the ${guess.deps.length} dependencies of the kept tree while it is revalidated`,
      });
      beside = await placing(guess);
    }
    // The tree usually comes first: its packages are placed beside the package while it still unpacks.
    const resolved = await treeP.then(
      (tree) => ({ tree }),
      (error: unknown) => ({ error }),
    );
    const tree = 'tree' in resolved ? resolved.tree : undefined;
    resolving.ahead?.close();
    if (beside && guess && !(tree && samePlacement(tree, guess))) {
      await discard(layout, beside);
      beside = undefined;
      progress({ phase: 'reuse', message: 'the kept tree no longer holds: what was placed from it is discarded' });
    }
    if (tree) {
      progress({ phase: 'resolve', message: resolvedMessage(tree) });
      refuseUnsignedDependencies(pkg.dependencySignatures, tree.deps, `${pkg.name}@${pkg.version}`);
      if (!beside && !treeFallbackReason(tree)) {
        progress({ phase: 'reuse', message: `placing ${tree.deps.length} dependencies while the package unpacks` });
        beside = await placing(tree);
      }
    } else if (!('error' in resolved)) {
      progress({ phase: 'resolve', message: 'nothing to resolve: full install' });
    }
    const unpacked = await unpacking;
    progress({ phase: 'extract', message: 'extracted', done: unpacked.count, total: unpacked.count, unit: 'files' });
    // The unpack's failure first, as when the two ran one after the other.
    if ('error' in resolved) throw resolved.error;
    const mainLinked = await linkOwnDeferred(pkgDir, unpacked.deferred, resolving.previous, progress);
    return await afterUnpack(input, {
      ...resolving,
      tree,
      beside,
      unpacked,
      pkgDir,
      tarball,
      integrity,
      main,
      mainLinked,
    });
  } catch (error) {
    // Nothing may write in the staging folder once it is being removed.
    await beside?.stop();
    await unpacking.catch(() => undefined);
    throw error;
  }
}

/** Whether a tree's packages may be placed before it is known to hold: the fast path would take it as it is. */
function placeable(tree: ResolvedTree, pkg: ResolvedPackage): boolean {
  if (treeFallbackReason(tree)) return false;
  try {
    refuseUnsignedDependencies(pkg.dependencySignatures, tree.deps, `${pkg.name}@${pkg.version}`);
    return true;
  } catch {
    return false; // refused once it is the tree given, not before
  }
}

/** Whether what was placed for `guess` is what `tree` places: the same packages, for the same Node. */
function samePlacement(tree: ResolvedTree, guess: ResolvedTree): boolean {
  return (
    tree.deps === guess.deps || (tree.node === guess.node && JSON.stringify(tree.deps) === JSON.stringify(guess.deps))
  );
}

/**
 * Where the main package's files came from: linked from the store (and the tarball fetched only if the fast
 * path is given up), or its tarball, unpacked here (and added to the store once the release is sealed).
 */
type MainSource = { fetchTarball: () => Promise<void> } & (
  | { stored: FromStore }
  | { tarball: { integrity: string; tarball: string } }
);

function resolvedMessage(tree: ResolvedTree): string {
  const how = !tree.how
    ? ''
    : 'kept' in tree.how
      ? ` (kept from an earlier resolution, ${tree.how.revalidated} packuments unchanged${tree.how.ahead ? ', asked while the package was fetched' : ''}, ${tree.how.ms} ms)`
      : ` (${tree.how.inProcess ? 'in process' : 'in a child'}, arborist ${tree.how.buildMs} ms, ${tree.how.prefetched} packuments prefetched)`;
  return `${tree.deps.length} dependencies resolved with Node ${tree.node}${how}`;
}

async function afterUnpack(
  input: StageInput,
  state: {
    node: NodeRuntime;
    flat: Record<string, unknown>;
    sideSignal: AbortSignal;
    tree: ResolvedTree | undefined;
    beside: PlacingBeside | undefined;
    unpacked: MainUnpack;
    pkgDir: string;
    tarball: string;
    integrity: string;
    main: MainSource;
    /** The package's own files linked to the previous release instead of written (link-previous.ts linkOwnDeferred). */
    mainLinked: Linked | undefined;
  },
): Promise<StagedRelease> {
  const { layout, config, runtime, journal, pkg } = input;
  const { node, flat, tree, unpacked, pkgDir, tarball, integrity } = state;
  const progress = runtime.onProgress;
  const checkAbort = () => runtime.signal?.throwIfAborted();
  await journal.commit('install:extracted');
  checkAbort();

  const packageJson = await readPackageJson(pkgDir, pkg);
  checkEngines(packageJson, node);
  // The syntax check only reads the entry points and runs none of the package's code: it starts now, beside
  // the dependencies' placement, and its outcome stands if what it read is unchanged once every script has run.
  const early = config.smoke
    ? undefined
    : await earlySyntaxCheck(pkgDir, packageJson, { node, env: runtime.env, signal: state.sideSignal });
  const depOptions = {
    pkgDir,
    node,
    npm: config.npm,
    env: runtime.env,
    npmConfig: runtime.npmConfig,
    npmCache: runtime.npmCache,
    registry: config.registry,
    signal: runtime.signal,
    onLine: (line: string) => progress({ phase: 'dependencies', message: line }),
  } as const;

  // npm's install-script policy: under strict-allow-scripts it refuses before anything runs.
  const uncovered = tree
    ? checkAllowScripts(tree, packageJson.scripts as Record<string, unknown> | undefined, runtime.npmConfig)
    : [];
  if (uncovered.length > 0)
    progress({
      phase: 'scripts',
      message: `install scripts not covered by allow-scripts (npm install -g runs them too, with a notice): ${uncovered.join(', ')}`,
    });
  const outcome = await installFastOrFull({
    layout,
    runtime,
    earlier: input.earlier,
    tree,
    pkgDir,
    tarball,
    fetchTarball: state.main.fetchTarball,
    mainStored: 'stored' in state.main ? state.main.stored : undefined,
    mainLinked: state.mainLinked,
    packageJson,
    depOptions,
    flat,
    node,
    unpacked: unpacked.known,
    beside: state.beside,
  });
  await journal.commit('install:deps-installed');
  checkAbort();

  // A configured smoke command runs the package, which may write into it: alone, before the manifest. The
  // syntax check (started early, checked again if a script changed what it read) and the dependency reach of the
  // complete tree overlap hashing the manifest (sealStaged waits for them before anything is linked or sealed).
  if (config.smoke) {
    const options = { node, env: runtime.env, command: config.smoke, signal: runtime.signal };
    progress({ phase: 'smoke', message: await smokeCheck(pkgDir, packageJson, options) });
  }
  const checked = Promise.all([early?.settle(), reachCheck(pkgDir)]).then(([syntax, reach]) =>
    progress({ phase: 'smoke', message: syntax ? `${syntax}; ${reach}` : reach }),
  );
  checked.catch(() => undefined);

  const sealed = await sealStaged({
    checked,
    layout,
    pkgDir,
    earlier: input.earlier,
    known: outcome.known,
    shared: outcome.shared,
    sharedImmutable: outcome.sharedImmutable,
    unproven: outcome.unproven,
    // The packages the fast path placed go into the store once sealed (not what a full npm install made; not
    // those it linked from the store, which holds them whole), and the main package's tarball whole when it was
    // unpacked here.
    storeNodes:
      outcome.fallback === null ? tree?.deps.filter((node) => !outcome.storedAt?.has(node.location)) : undefined,
    storeMain:
      outcome.fallback === null && 'tarball' in state.main
        ? { ...state.main.tarball, entries: unpacked.entries }
        : undefined,
    progress,
    identity: {
      name: pkg.name,
      version: pkg.version,
      integrity: pkg.integrity ?? integrity,
      // The marker is immutable and world-readable: a registry URL's credentials never go into it.
      source: withoutCredentials(pkg.resolved),
      node: { path: node.path, version: node.version },
      signatures: withDependencies(pkg.signatures, pkg.dependencySignatures, outcome.fallback),
    },
  });
  await fs.rm(tarball, { force: true });
  // An inode's first state before this staging linked to it wins: the fast path's links came before dedupe's.
  const inodes = new Map([...sealed.inodes, ...outcome.inodes]);
  return { dir: pkgDir, ...sealed, inodes, reused: outcome.reused, fallback: outcome.fallback };
}

async function readPackageJson(pkgDir: string, pkg: ResolvedPackage): Promise<Record<string, unknown>> {
  const json = await readPackageJsonAt(pkgDir, 'The tarball is not an installable npm package.');
  if (json.name !== pkg.name || json.version !== pkg.version) {
    throw new ReleaseSwitcherError(
      'BAD_PACKAGE_JSON',
      `package.json inside the tarball does not say ${pkg.name}@${pkg.version}.`,
      {
        hint: 'The tarball is not the package the registry describes; do not install it.',
      },
    );
  }
  return json;
}
