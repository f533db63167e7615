/**
 * Staging: spec → verified tarball → safe extraction → dependencies and lifecycle with the
 * configured Node → smoke check → manifest → dedupe → seal, all inside `staging/<id>/`. The caller
 * renames the result into `releases/<version>` and journals it; on any failure it deletes the folder.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../store/config.js';
import { ReleaseSwitcherError } from '../model/errors.js';
import { writeFileAtomic } from '../platform/fs.js';
import type { Journal } from '../store/journal.js';
import { LAYOUT_VERSION, type Layout, RELEASE_MARKER } from '../store/layout.js';
import { type KnownHash, type ReleaseMarker, computeManifest, hashAhead, manifestSize } from '../store/manifest.js';
import { recordSeal } from '../store/fingerprints.js';
import { readMarker } from '../store/release.js';
import type { ProgressEvent, ResolvedRuntime } from '../model/runtime.js';
import { type EarlierRelease, dedupeAgainst, sealTree } from '../store/seal.js';
import { installDependencies, runLifecycle } from './dependencies.js';
import { extractTarball } from './extract.js';
import { type ResolvedPackage, downloadTarball } from '../registry/fetch.js';
import { checkEngines, probeNode } from '../platform/node.js';
import { smokeCheck } from './smoke.js';

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
}

export async function stageRelease(input: StageInput): Promise<StagedRelease> {
  const { layout, config, runtime, journal, pkg } = input;
  const progress = runtime.onProgress;
  const work = layout.stagingDir(input.stagingId);
  const pkgDir = path.join(work, 'package');
  const tarball = path.join(work, 'package.tgz');
  await fs.mkdir(work, { recursive: true });
  const checkAbort = () => runtime.signal?.throwIfAborted();

  progress({ phase: 'download', message: `fetching ${pkg.name}@${pkg.version} from ${pkg.resolved}`, total: pkg.manifest.dist?.unpackedSize, unit: 'bytes' });
  const integrity = await downloadTarball(pkg, tarball, config, runtime, layout.root);
  const downloaded = (await fs.stat(tarball)).size;
  progress({ phase: 'download', message: `fetched, integrity ${integrity.slice(0, 20)}…`, done: downloaded, total: downloaded, unit: 'bytes' });
  checkAbort();

  const files = await extractTarball(tarball, pkgDir, {
    env: runtime.env,
    onFile: (count) => {
      if (count % 1000 === 0) progress({ phase: 'extract', message: `${count} files checked`, done: count, total: pkg.manifest.dist?.fileCount, unit: 'files' });
    },
  });
  await fs.rm(tarball, { force: true });
  progress({ phase: 'extract', message: 'extracted', done: files, total: files, unit: 'files' });
  await journal.commit('install:extracted');
  checkAbort();

  const packageJson = await readPackageJson(pkgDir, pkg);
  const node = await probeNode(config.node ?? process.execPath, runtime.env);
  checkEngines(packageJson, node);

  const depOptions = { pkgDir, node, npm: config.npm, env: runtime.env, npmCache: runtime.npmCache, registry: config.registry, onLine: (line: string) => progress({ phase: 'dependencies', message: line }) } as const;
  progress({ phase: 'dependencies', message: `installing dependencies with Node ${node.version}` });
  // While npm works (one process, one core), hash the package's own files on the other. What npm or
  // we write meanwhile (node_modules, the lock and package.json) is hashed afterwards; this finishes
  // before any lifecycle script may change a file.
  const ownFiles = hashAhead(pkgDir, (rel) => NPM_WRITES.has(rel));
  try {
    await installDependencies(depOptions, packageJson);
  } finally {
    await ownFiles.catch(() => undefined);
  }
  const known = await ownFiles;
  checkAbort();
  const ran = await runLifecycle(depOptions, packageJson);
  progress({ phase: 'lifecycle', message: ran.length ? `ran ${ran.join(', ')}` : 'no lifecycle scripts' });
  await journal.commit('install:deps-installed');
  checkAbort();

  progress({ phase: 'smoke', message: await smokeCheck(pkgDir, packageJson, { node, env: runtime.env, command: config.smoke }) });

  const sealed = await sealStaged({
    layout,
    pkgDir,
    earlier: input.earlier,
    known,
    progress,
    identity: { name: pkg.name, version: pkg.version, integrity: pkg.integrity ?? integrity, source: pkg.resolved, node: { path: node.path, version: node.version } },
  });
  return { dir: pkgDir, ...sealed };
}

export interface SealInput {
  layout: Layout;
  /** The complete package root, still private to staging. */
  pkgDir: string;
  /** Releases to share identical files with, newest first. */
  earlier: string[];
  identity: Pick<ReleaseMarker, 'name' | 'version' | 'integrity' | 'source' | 'node'>;
  known?: ReadonlyMap<string, KnownHash>;
  progress: (event: ProgressEvent) => void;
}

/** Manifest, dedupe against earlier releases, marker, seal: the end of every way a release is made. */
export async function sealStaged(input: SealInput): Promise<{ marker: ReleaseMarker; linkedBytes: number }> {
  const { pkgDir, progress } = input;
  progress({ phase: 'manifest', message: 'hashing files' });
  const manifest = await computeManifest(pkgDir, input.known);
  const earlier = await earlierManifests(input.layout, input.earlier);
  const { linked, linkedBytes, internalBytes, inodes } = await dedupeAgainst(pkgDir, manifest, earlier);
  progress({ phase: 'dedupe', message: `${linked.size} files (${linkedBytes} bytes) shared with earlier releases, ${internalBytes} bytes of duplicates within` });
  const marker: ReleaseMarker = { layoutVersion: LAYOUT_VERSION, ...input.identity, installedAt: new Date().toISOString(), size: manifestSize(manifest), files: manifest };
  await writeFileAtomic(path.join(pkgDir, RELEASE_MARKER), JSON.stringify(marker) + '\n');
  await sealTree(pkgDir, linked);
  await recordSeal({ layout: input.layout, version: input.identity.version, dir: pkgDir, inodes, earlier: input.earlier }); // last: after every step that moves a ctime
  progress({ phase: 'seal', message: `sealed ${manifest.length} entries` });
  return { marker, linkedBytes };
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
    if (marker) out.push({ dir: layout.release(version), files: marker.files });
  }
  return out;
}
