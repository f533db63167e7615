import fs from 'node:fs/promises';
import semver from 'semver';
import { ReleaseSwitcherError, asDiskFull } from '../errors.js';
import { fsyncDir, removeTree } from '../fsutil.js';
import { type Journal, newId } from '../journal.js';
import { crashPoint } from '../crashpoint.js';
import { readLinkVersion } from '../links.js';
import { readMarker } from '../release.js';
import { mutate } from '../mutate.js';
import type { MutationSession, RootOptions } from '../session.js';
import { resolvePackage } from '../stage/fetch.js';
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
    await journal.commit('install:sealed');
    await fs.rename(staged.dir, layout.release(pkg.version));
    await fsyncDir(layout.releases);
    crashPoint('install:renamed');
    journal.state.releases[pkg.version] = {
      version: pkg.version,
      state: 'installed',
      pinned: false,
      installedAt: staged.marker.installedAt,
      integrity: staged.marker.integrity,
      source: staged.marker.source,
    };
    journal.state.operation = null;
    await journal.commit('install:done');
    return { version: pkg.version, path: layout.release(pkg.version), integrity: staged.marker.integrity, alreadyInstalled: false };
  } catch (error) {
    throw await abandonStaging(journal, layout.stagingDir(stagingId), error);
  } finally {
    await removeTree(layout.stagingDir(stagingId)).catch(() => undefined);
  }
}

/** Remove what staging made (first, so a full disk has room for the journal) and close the operation. */
async function abandonStaging(journal: Journal, dir: string, error: unknown): Promise<unknown> {
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
async function reuseCandidates(session: MutationSession): Promise<string[]> {
  const current = await readLinkVersion(session.layout, 'current');
  const others = Object.keys(session.journal.state.releases)
    .filter((version) => version !== current)
    .sort((a, b) => (semver.valid(a) && semver.valid(b) ? semver.rcompare(a, b) : a < b ? 1 : -1));
  return [...(current ? [current] : []), ...others];
}
