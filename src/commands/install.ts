import fs from 'node:fs/promises';
import { ReleaseSwitcherError, asDiskFull } from '../errors.js';
import { fsyncDir, removeTree } from '../fsutil.js';
import { type Journal, type ReleaseState, newId, readState } from '../journal.js';
import type { ReleaseMarker } from '../manifest.js';
import { crashPoint } from '../crashpoint.js';
import { readLinkVersion } from '../links.js';
import { readMarker } from '../release.js';
import { mutate } from '../mutate.js';
import { type MutationSession, type RootOptions, openSession } from '../session.js';
import { resolvePackage } from '../stage/fetch.js';
import { compareVersionsDesc } from './list.js';
import { stageRelease } from '../stage/index.js';

export interface InstallOptions extends RootOptions {
  /** npm spec: NAME@VERSION|TAG|RANGE, a bare version, tag or range of the managed package, a .tgz path or URL. */
  spec: string;
}

export interface InstallResult {
  version: string;
  path: string;
  integrity: string | null;
  alreadyInstalled: boolean;
}

export interface InstallPlan {
  dryRun: true;
  version: string;
  /** Where the tarball would come from. */
  from: string;
  integrity: string | null;
  /** Bytes to download for the package itself (dependencies not included); null when the registry does not say. */
  tarballSize: number | null;
  /** Unpacked size and file count of the package itself, as the registry announces them (npmjs does; not every registry). */
  unpackedSize: number | null;
  fileCount: number | null;
  dependencies: number;
  alreadyInstalled: boolean;
  current: string | null;
}

/** What `install SPEC` would do, without doing it: resolve only (no lock, nothing written). */
export async function planInstall(options: InstallOptions): Promise<InstallPlan> {
  const { layout, config, runtime } = await openSession(options);
  // The full document carries dist.unpackedSize and fileCount, which the abbreviated one may not.
  const pkg = await resolvePackage(options.spec, config, runtime, process.cwd(), { fullMetadata: true });
  const state = await readState(layout.root);
  const deps = { ...(pkg.manifest.dependencies as Record<string, string> | undefined), ...(pkg.manifest.optionalDependencies as Record<string, string> | undefined) };
  return {
    dryRun: true,
    version: pkg.version,
    from: pkg.resolved,
    integrity: pkg.integrity,
    tarballSize: await tarballSize(pkg.resolved),
    unpackedSize: pkg.manifest.dist?.unpackedSize ?? null,
    fileCount: pkg.manifest.dist?.fileCount ?? null,
    dependencies: Object.keys(deps).length,
    alreadyInstalled: Boolean(state.releases[pkg.version]),
    current: await readLinkVersion(layout, 'current'),
  };
}

/** The download size, from the file or a HEAD request; null when it cannot be told. */
async function tarballSize(resolved: string): Promise<number | null> {
  try {
    if (!/^https?:/.test(resolved)) return (await fs.stat(resolved.replace(/^file:/, ''))).size;
    const response = await fetch(resolved, { method: 'HEAD', signal: AbortSignal.timeout(10_000) });
    const length = Number(response.headers.get('content-length'));
    return response.ok && Number.isFinite(length) && length > 0 ? length : null;
  } catch {
    return null;
  }
}

/** Stage and seal a release into releases/<version>. Never touches `current`. */
export async function install(options: InstallOptions): Promise<InstallResult> {
  return mutate(options, `install ${options.spec}`, (session) => installLocked(session, options.spec));
}

/** The body of `install`, for callers that already hold the lock (update). */
export async function installLocked(session: MutationSession, spec: string): Promise<InstallResult> {
  const { layout, config, runtime, journal } = session;
  runtime.onProgress({ phase: 'resolve', message: `resolving ${spec}` });
  const pkg = await resolvePackage(spec, config, runtime, process.cwd());
  const existing = journal.state.releases[pkg.version];
  const marker = existing && (await readMarker(layout, pkg.version));
  if (existing && marker) {
    if (marker.name !== pkg.name || (pkg.integrity && marker.integrity && pkg.integrity !== marker.integrity)) {
      throw new ReleaseSwitcherError('VERSION_CONFLICT', `releases/${pkg.version} holds another build of ${pkg.version} (${marker.name}, ${marker.integrity}) than ${pkg.spec} (${pkg.name}, ${pkg.integrity}).`, {
        hint: `A version is installed once. Remove the old build first (release-switcher prune) or publish a new version.`,
      });
    }
    return { version: pkg.version, path: layout.release(pkg.version), integrity: existing.integrity, alreadyInstalled: true };
  }
  const stagingId = newId();
  journal.state.operation = { kind: 'install', id: stagingId, startedAt: new Date().toISOString(), versions: [pkg.version] };
  await journal.commit('install:begin');
  try {
    const staged = await stageRelease({ layout, config, runtime, journal, pkg, stagingId, earlier: await reuseCandidates(session) });
    await commitRelease(session, staged, 'installed');
    return { version: pkg.version, path: layout.release(pkg.version), integrity: staged.marker.integrity, alreadyInstalled: false };
  } catch (error) {
    throw await abandonStaging(journal, layout.stagingDir(stagingId), error);
  } finally {
    await removeTree(layout.stagingDir(stagingId)).catch(() => undefined);
  }
}

/** Rename a sealed staged release into releases/<version> and journal it: the end of install and adopt. */
export async function commitRelease(session: MutationSession, staged: { dir: string; marker: ReleaseMarker }, state: ReleaseState): Promise<void> {
  const { layout, journal } = session;
  const { version } = staged.marker;
  await journal.commit('install:sealed');
  await fs.rename(staged.dir, layout.release(version));
  await fsyncDir(layout.releases);
  crashPoint('install:renamed');
  journal.state.releases[version] = { version, state, pinned: false, installedAt: staged.marker.installedAt, integrity: staged.marker.integrity, source: staged.marker.source };
  journal.state.operation = null;
  await journal.commit('install:done');
}

/** Remove what staging made (first, so a full disk has room for the journal) and close the operation. */
export async function abandonStaging(journal: Journal, dir: string, error: unknown): Promise<unknown> {
  await removeTree(dir).catch(() => undefined);
  journal.state.operation = null;
  await journal.commit().catch(() => undefined);
  if (error instanceof ReleaseSwitcherError) return error;
  if ((error as Error)?.name === 'AbortError') {
    return new ReleaseSwitcherError('CANCELLED', 'Staging was cancelled; nothing was changed.', { cause: error });
  }
  return asDiskFull(error, 'staging');
}

/** Releases to share identical files with: current first, then the newest others. */
export async function reuseCandidates(session: MutationSession): Promise<string[]> {
  const current = await readLinkVersion(session.layout, 'current');
  const others = Object.keys(session.journal.state.releases)
    .filter((version) => version !== current)
    .sort(compareVersionsDesc);
  return [...(current ? [current] : []), ...others];
}
