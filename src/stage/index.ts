/**
 * Staging: spec → verified tarball → safe extraction → dependencies and lifecycle with the
 * configured Node → smoke check → manifest → dedupe → seal, all inside `staging/<id>/`. The caller
 * renames the result into `releases/<version>` and journals it; on any failure it deletes the folder.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../store/config.js';
import { ReleaseSwitcherError, isReleaseSwitcherError } from '../model/errors.js';
import { writeFileAtomic } from '../platform/fs.js';
import type { Journal } from '../store/journal.js';
import { LAYOUT_VERSION, type Layout, RELEASE_MARKER } from '../store/layout.js';
import { type KnownHash, type ReleaseMarker, computeManifest, manifestSize } from '../store/manifest.js';
import type { LinkedInode } from '../store/fingerprints.js';
import { removeTreeKeepingReleases } from '../store/immutable-release.js';
import { readMarker } from '../store/release.js';
import type { ProgressEvent, ResolvedRuntime } from '../model/runtime.js';
import { type EarlierRelease, dedupeAgainst, sealTree } from '../store/seal.js';
import { installDependencies, runLifecycle } from './dependencies.js';
import { unpack } from './unpack-call.js';
import { flatNpmOptions, resolveTree, type ResolvedTree } from './resolve-tree.js';
import { NOTHING_REUSED, type Reused, buildTree, fallbackReason, sharedWrites } from './fast.js';
import { previousRelease } from './tree-record.js';
import { scriptEnv } from './dep-scripts.js';
import { checkAllowScripts } from './allow-scripts.js';
import type { NodeRuntime } from '../platform/node.js';
import type { DependencyOptions } from './dependencies.js';
import { type ResolvedPackage, downloadTarball } from '../registry/fetch.js';
import { refuseUnsignedDependencies, withDependencies } from '../registry/signatures.js';
import { checkEngines, probeNode } from '../platform/node.js';
import { smokeCheck } from './smoke.js';
import { probeImmutable } from '../platform/immutable.js';

/** Top-level entries that npm install (or our hiding of scripts from it) writes while it runs. */
const NPM_WRITES = new Set(['node_modules', 'package.json', 'package-lock.json', 'npm-shrinkwrap.json']);

export interface StageInput {
  layout: Layout;
  config: Config;
  runtime: ResolvedRuntime;
  journal: Journal;
  pkg: ResolvedPackage;
  stagingId: string;
  /** Releases to share identical files with, newest first. */
  earlier: string[];
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

  const node = await probeNode(config.node ?? process.execPath, runtime.env);
  const flat = flatNpmOptions(runtime.npmConfig, runtime.npmCache, config.registry);
  // Resolution (a child on the configured Node) is the longest step before reuse can start: it runs
  // while the main tarball is downloaded and unpacked, and is stopped if staging fails meanwhile.
  const stopResolve = new AbortController();
  const resolveSignal = runtime.signal ? AbortSignal.any([runtime.signal, stopResolve.signal]) : stopResolve.signal;
  const treeP = registrySpec(pkg)
    ? resolveTree({ spec: `${pkg.name}@${pkg.version}`, packageName: pkg.name, nodePath: node.path, npmConfig: runtime.npmConfig, npmCache: runtime.npmCache, registry: config.registry, env: runtime.env, signal: resolveSignal, verify: pkg.dependencySignatures?.pacote, packument: pkg.packument })
    : Promise.resolve(undefined);
  treeP.catch(() => undefined);
  try {
    return await stageResolving(input, { node, flat, treeP });
  } finally {
    stopResolve.abort();
  }
}

async function stageResolving(input: StageInput, resolving: { node: NodeRuntime; flat: Record<string, unknown>; treeP: Promise<ResolvedTree | undefined> }): Promise<StagedRelease> {
  const { layout, config, runtime, journal, pkg } = input;
  const { node, flat, treeP } = resolving;
  const progress = runtime.onProgress;
  const work = layout.stagingDir(input.stagingId);
  const pkgDir = path.join(work, 'package');
  const tarball = path.join(work, 'package.tgz');
  const checkAbort = () => runtime.signal?.throwIfAborted();
  progress({ phase: 'download', message: `fetching ${pkg.name}@${pkg.version} from ${pkg.resolved}`, total: pkg.manifest.dist?.unpackedSize, unit: 'bytes' });
  const integrity = await downloadTarball(pkg, tarball, { config, runtime, where: layout.root });
  const downloaded = (await fs.stat(tarball)).size;
  progress({ phase: 'download', message: `fetched, integrity ${integrity.slice(0, 20)}…`, done: downloaded, total: downloaded, unit: 'bytes' });
  checkAbort();

  // One pass checks, writes and hashes each entry; the package's own files need no hashing later
  // (what npm rewrites, below NPM_WRITES, is hashed at the manifest).
  const unpacked = await unpack({
    tarball,
    dest: pkgDir,
    signal: runtime.signal,
    skipKnown: (rel) => NPM_WRITES.has(rel.split('/')[0]!),
    onEntry: (count) => {
      if (count % 1000 === 0) progress({ phase: 'extract', message: `${count} entries written`, done: count, total: pkg.manifest.dist?.fileCount, unit: 'files' });
    },
  });
  progress({ phase: 'extract', message: 'extracted', done: unpacked.count, total: unpacked.count, unit: 'files' });
  await journal.commit('install:extracted');
  checkAbort();

  const packageJson = await readPackageJson(pkgDir, pkg);
  checkEngines(packageJson, node);
  const depOptions = { pkgDir, node, npm: config.npm, env: runtime.env, npmConfig: runtime.npmConfig, npmCache: runtime.npmCache, registry: config.registry, signal: runtime.signal, onLine: (line: string) => progress({ phase: 'dependencies', message: line }) } as const;

  const tree = await treeP;
  if (tree) refuseUnsignedDependencies(pkg.dependencySignatures, tree.deps, `${pkg.name}@${pkg.version}`);
  progress({ phase: 'resolve', message: tree ? `${tree.deps.length} dependencies resolved with Node ${tree.node}` : 'not a registry package: full install' });
  // npm's install-script policy: under strict-allow-scripts it refuses before anything runs.
  const uncovered = tree ? checkAllowScripts(tree, packageJson.scripts as Record<string, unknown> | undefined, runtime.npmConfig) : [];
  if (uncovered.length > 0) progress({ phase: 'scripts', message: `install scripts not covered by allow-scripts (npm install -g runs them too, with a notice): ${uncovered.join(', ')}` });
  const reason = tree ? await fallbackReason(tree, pkgDir) : 'the package does not come from a registry';
  let outcome: FastOutcome | undefined;
  if (tree && !reason) {
    outcome = await fastPath({ input, tree, pkgDir, packageJson, depOptions, flat, node });
    outcome = { ...outcome, known: new Map([...unpacked.known, ...outcome.known]) };
  }
  if (!outcome || outcome.fallback) {
    const why = outcome?.fallback ?? reason!;
    const own = outcome?.fallback ? await resetPackage(layout, { pkgDir, tarball, signal: runtime.signal }) : unpacked.known;
    progress({ phase: 'dependencies', message: `full install: ${why}` });
    await fullInstall(depOptions, packageJson, progress);
    outcome = { known: own, shared: new Set(), sharedImmutable: new Set(), inodes: new Map(), reused: NOTHING_REUSED, fallback: why };
  }
  await fs.rm(tarball, { force: true });
  await journal.commit('install:deps-installed');
  checkAbort();

  progress({ phase: 'smoke', message: await smokeCheck(pkgDir, packageJson, { node, env: runtime.env, command: config.smoke }) });

  const sealed = await sealStaged({
    layout,
    pkgDir,
    earlier: input.earlier,
    known: outcome.known,
    shared: outcome.shared,
    sharedImmutable: outcome.sharedImmutable,
    progress,
    identity: { name: pkg.name, version: pkg.version, integrity: pkg.integrity ?? integrity, source: pkg.resolved, node: { path: node.path, version: node.version }, signatures: withDependencies(pkg.signatures, pkg.dependencySignatures, outcome.fallback) },
  });
  // An inode's first state before this staging linked to it wins: the fast path's links came before dedupe's.
  const inodes = new Map([...sealed.inodes, ...outcome.inodes]);
  return { dir: pkgDir, ...sealed, inodes, reused: outcome.reused, fallback: outcome.fallback };
}

export interface SealInput {
  layout: Layout;
  /** The complete package root, still private to staging. */
  pkgDir: string;
  /** Releases to share identical files with, newest first. */
  earlier: string[];
  identity: Pick<ReleaseMarker, 'name' | 'version' | 'integrity' | 'source' | 'node' | 'signatures'>;
  known?: ReadonlyMap<string, KnownHash>;
  /** Files already hardlinked from an earlier release (not deduped or chmodded again). */
  shared?: ReadonlySet<string>;
  /** Of those, the ones whose inodes carry the immutable attribute already. */
  sharedImmutable?: ReadonlySet<string>;
  progress: (event: ProgressEvent) => void;
}

/** Manifest, dedupe against earlier releases, marker, seal: the end of every way a release is made. */
export async function sealStaged(input: SealInput): Promise<{ marker: ReleaseMarker; linkedBytes: number; inodes: Map<string, LinkedInode>; alreadyImmutable: Set<string> }> {
  const { pkgDir, progress } = input;
  progress({ phase: 'manifest', message: 'hashing files' });
  const manifest = await computeManifest(pkgDir, input.known);
  const earlier = await earlierManifests(input.layout, input.earlier);
  const shared = input.shared ?? new Set<string>();
  const deduped = await dedupeAgainst(pkgDir, manifest, earlier, shared);
  const { linkedBytes, internalBytes, inodes } = deduped;
  const linked = new Set([...deduped.linked, ...shared]);
  progress({ phase: 'dedupe', message: `${linked.size} files (${linkedBytes} bytes) shared with earlier releases, ${internalBytes} bytes of duplicates within` });
  const immutable = await probeImmutable(pkgDir);
  if (!immutable.supported) progress({ phase: 'seal', message: `the release cannot be made immutable here (${immutable.reason}); sealed by mode bits only` });
  const marker: ReleaseMarker = { layoutVersion: LAYOUT_VERSION, ...input.identity, installedAt: new Date().toISOString(), immutable: immutable.supported, size: manifestSize(manifest), files: manifest };
  await writeFileAtomic(path.join(pkgDir, RELEASE_MARKER), `${JSON.stringify(marker)}\n`);
  await sealTree(pkgDir, linked, manifest);
  progress({ phase: 'seal', message: `sealed ${manifest.length} entries` });
  return { marker, linkedBytes, inodes, alreadyImmutable: new Set([...(input.sharedImmutable ?? []), ...deduped.immutable]) };
}

async function readPackageJson(pkgDir: string, pkg: ResolvedPackage): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.readFile(path.join(pkgDir, 'package.json'), 'utf8'));
  } catch (error) {
    throw new ReleaseSwitcherError('BAD_PACKAGE_JSON', `The package has no readable package.json (${(error as Error).message}).`, {
      hint: 'The tarball is not an installable npm package.',
      cause: error,
    });
  }
  const json = parsed as Record<string, unknown>;
  if (typeof parsed !== 'object' || parsed === null || json.name !== pkg.name || json.version !== pkg.version) {
    throw new ReleaseSwitcherError('BAD_PACKAGE_JSON', `package.json inside the tarball does not say ${pkg.name}@${pkg.version}.`, {
      hint: 'The tarball is not the package the registry describes; do not install it.',
    });
  }
  return json;
}

async function earlierManifests(layout: Layout, versions: string[]): Promise<EarlierRelease[]> {
  const out: EarlierRelease[] = [];
  for (const version of versions) {
    const marker = await readMarker(layout, version);
    if (marker) out.push({ dir: layout.release(version), files: marker.files, immutable: marker.immutable === true });
  }
  return out;
}

function registrySpec(pkg: ResolvedPackage): boolean {
  return /^https?:/.test(pkg.resolved);
}

/** Unpack the main package afresh (after a fast path that was given up); its files' hashes. */
async function resetPackage(layout: Layout, work: { pkgDir: string; tarball: string; signal: AbortSignal | undefined }): Promise<Map<string, KnownHash>> {
  const { pkgDir, tarball, signal } = work;
  // Links into immutable releases: their removal clears the attribute, which is then set again.
  await removeTreeKeepingReleases(layout, pkgDir);
  return (await unpack({ tarball, dest: pkgDir, signal, skipKnown: (rel) => NPM_WRITES.has(rel.split('/')[0]!) })).known;
}

/** Today's way: `npm install --omit=dev` in the package, then the package's own lifecycle scripts. */
async function fullInstall(depOptions: DependencyOptions, packageJson: Record<string, unknown>, progress: (event: ProgressEvent) => void): Promise<void> {
  progress({ phase: 'dependencies', message: `installing dependencies with Node ${depOptions.node.version}` });
  await installDependencies(depOptions, packageJson);
  const ran = await runLifecycle(depOptions, packageJson);
  progress({ phase: 'lifecycle', message: ran.length ? `ran ${ran.join(', ')}` : 'no lifecycle scripts' });
}

interface FastPathInput {
  input: StageInput;
  tree: ResolvedTree;
  pkgDir: string;
  packageJson: Record<string, unknown>;
  depOptions: DependencyOptions;
  flat: Record<string, unknown>;
  node: NodeRuntime;
}

interface FastOutcome {
  known: ReadonlyMap<string, KnownHash>;
  /** Files hardlinked to the previous release (not deduped or chmodded again). */
  shared: Set<string>;
  /** Of those, the ones whose inodes carry the immutable attribute (the previous release is immutable). */
  sharedImmutable: Set<string>;
  /** The previous release's inodes linked to, before the first link. */
  inodes: Map<string, LinkedInode>;
  reused: Reused;
  fallback: string | null;
}

async function fastPath(args: FastPathInput): Promise<FastOutcome> {
  const { input, tree, pkgDir } = args;
  const { runtime } = input;
  const previous = await previousRelease(input.layout, input.earlier);
  const npmConfig = runtime.npmConfig;
  let result: Awaited<ReturnType<typeof buildTree>>;
  let ran: string[];
  try {
    result = await buildTree({
      pkgDir, tree, previous, pacoteOptions: args.flat, progress: runtime.onProgress, signal: runtime.signal,
      scriptEnv: scriptEnv(runtime.env, { nodePath: args.node.path, npmConfig, npmCache: runtime.npmCache }),
      nodePath: args.node.path,
      ignoreScripts: npmConfig['ignore-scripts'] === 'true',
    });
    ran = npmConfig['ignore-scripts'] === 'true' ? [] : await runLifecycle(args.depOptions, args.packageJson);
  } catch (error) {
    // Files linked from an immutable release refuse every write, a script's too (EPERM, even as root):
    // a script that failed may have tried to write into one. It runs again on private copies; a
    // script that is simply broken fails there as well, and that error is the one reported.
    if (!previous?.immutable || !isReleaseSwitcherError(error) || error.code !== 'DEPENDENCY_INSTALL_FAILED') throw error;
    return { known: new Map(), shared: new Set(), sharedImmutable: new Set(), inodes: new Map(), reused: NOTHING_REUSED, fallback: `a lifecycle script failed while files were shared with the immutable release ${path.basename(previous.dir)} (${error.message.split('\n')[0]})` };
  }
  runtime.onProgress({ phase: 'lifecycle', message: ran.length ? `ran ${ran.join(', ')}` : 'no lifecycle scripts' });
  const moved = await sharedWrites(result);
  if (moved.length > 0) {
    return { known: new Map(), shared: new Set(), sharedImmutable: new Set(), inodes: new Map(), reused: NOTHING_REUSED, fallback: `a lifecycle script wrote into ${moved.length} file(s) shared with an earlier release (${moved.slice(0, 3).join(', ')}); that release fails verify-release until reinstalled` };
  }
  const shared = new Set(result.linked?.known.keys() ?? []);
  return { known: result.known, shared, sharedImmutable: previous?.immutable ? shared : new Set(), inodes: result.inodes, reused: result.reused, fallback: null };
}
