/**
 * Installing one release under the root's lock: resolve, stage, seal, rename into releases/<version>
 * and journal it. `install`, `update`, the gateway's update.run and a runner all come through here.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError, asDiskFull, isReleaseSwitcherError } from '../model/errors.js';
import type { NodeRef, ReleaseState } from '../model/state.js';
import { crashPoint } from '../platform/crashpoint.js';
import { fsyncDir, removeTree } from '../platform/fs.js';
import { type ResolvedPackage, normalizeSpec, resolvePackage } from '../registry/fetch.js';
import { type ReleaseLedger, newId } from '../store/journal.js';
import { readLinkVersion } from '../store/links.js';
import type { ReleaseMarker } from '../store/manifest.js';
import { compareVersionsDesc, readMarker } from '../store/release.js';
import type { JournalSession } from '../store/session.js';
import { stageRelease } from './index.js';
import { flatNpmOptions, preloadResolver } from './resolve/resolve-tree.js';
import { type TreeAhead, startTreeAhead } from './resolve/tree-ahead.js';
import {
  type LinkedInode,
  byInode,
  recordFingerprints,
  refreshAfterLinks,
  statEntries,
} from '../store/fingerprints.js';
import { makeReleaseImmutable, removeTreeKeepingReleases } from '../store/immutable-release.js';
import { stillUnproven } from '../store/store-proof.js';
import { layoutOf } from '../store/layout.js';
import { sealReleaseTop } from '../store/seal.js';
import { yieldingTo } from '../store/lock-yield.js';
import { nodeToStageFor } from './staging-node.js';

export interface InstallResult {
  version: string;
  path: string;
  integrity: string | null;
  alreadyInstalled: boolean;
  /** What was linked from earlier releases instead of extracted. */
  reused: { packages: number; files: number; bytes: number };
  /** Why the fast path was not used (a full npm install ran), or null. */
  fallback?: string | null;
  /** The registry signature check of this release (verified, unsigned, skipped); absent for releases installed before it existed. */
  signatures?: 'verified' | 'unsigned' | 'skipped';
  /** The version announced a provenance attestation (recorded, not verified). */
  provenance?: boolean;
}

/**
 * The body of `install`, for callers that already hold the lock (update). `resolved`: the package a
 * caller already resolved from `spec` with `forStaging` (the gateway decides on its version first);
 * installing that very one, with its packument, keeps it one fetch and one answer per update.
 */
/** A session under the lock, with the ledger that records what staging made (transaction/record.ts writes it). */
export type StagingSession = JournalSession & { ledger: ReleaseLedger };

export async function installLocked(
  session: StagingSession,
  spec: string,
  resolved?: ResolvedPackage,
  options: { node?: string | undefined } = {},
): Promise<InstallResult> {
  const { config, runtime } = session;
  runtime.onProgress({ phase: 'resolve', message: `resolving ${spec}` });
  // The tree last kept for this spec is revalidated while the package is fetched (tree-ahead.ts); arborist is
  // loaded meanwhile only where no such tree is there to be given.
  const treeAhead = resolved ? undefined : guessTree(session, spec, options.node);
  if (!resolved && !treeAhead) preloadResolver(config.node);
  treeAhead?.tree.then(
    (guessed) => {
      if (!guessed) preloadResolver(config.node);
    },
    () => preloadResolver(config.node),
  );
  try {
    return await installResolving(session, spec, resolved, { ...options, treeAhead });
  } finally {
    treeAhead?.stop();
  }
}

async function installResolving(
  session: StagingSession,
  spec: string,
  resolved: ResolvedPackage | undefined,
  options: { node?: string | undefined; treeAhead: TreeAhead | undefined },
): Promise<InstallResult> {
  const { layout, config, runtime, journal, ledger } = session;
  // On the network the lock is held as yielding: an activation of an installed release takes precedence.
  const yielding = <T>(work: (runtime: JournalSession['runtime']) => Promise<T>) =>
    yieldingTo(layout.root, runtime.signal, (signal) => work({ ...runtime, signal }));
  const pkg =
    resolved ??
    (await yielding((runtime) => resolvePackage(spec, { config, runtime, where: runtime.cwd, forStaging: true })));
  const existing = journal.state.releases[pkg.version];
  const marker = existing && (await readMarker(layout, pkg.version));
  if (existing && marker) {
    if (marker.name !== pkg.name || (pkg.integrity && marker.integrity && pkg.integrity !== marker.integrity)) {
      throw new ReleaseSwitcherError(
        'VERSION_CONFLICT',
        `releases/${pkg.version} holds another build of ${pkg.version} (${marker.name}, ${marker.integrity}) than ${pkg.spec} (${pkg.name}, ${pkg.integrity}).`,
        {
          hint: `A version is installed once. Remove the old build first (release-switcher prune) or publish a new version.`,
        },
      );
    }
    const recorded = existing.signatures
      ? { signatures: existing.signatures, provenance: existing.provenance === true }
      : {};
    return {
      version: pkg.version,
      path: layout.release(pkg.version),
      integrity: existing.integrity,
      alreadyInstalled: true,
      reused: { packages: 0, files: 0, bytes: 0 },
      fallback: null,
      ...recorded,
    };
  }
  const stagingId = newId();
  ledger.beginOperation({
    kind: 'install',
    id: stagingId,
    startedAt: new Date().toISOString(),
    versions: [pkg.version],
  });
  await journal.commit('install:begin');
  try {
    const earlier = await reuseCandidates(session);
    // Another Node than the service's (asked for, or the one its engines need): staged for it, and it records it.
    const node = await nodeToStageFor(session, journal.state.releases, pkg, options.node);
    const staged = await yielding((runtime) =>
      stageRelease({
        layout,
        config: node ? { ...config, node } : config,
        runtime,
        journal,
        pkg,
        stagingId,
        earlier,
        treeAhead: options.treeAhead,
      }),
    );
    await commitRelease(session, { ...staged, earlier, ...(node && { runsOn: staged.marker.node }) }, 'installed');
    const { signatures } = staged.marker;
    return {
      version: pkg.version,
      path: layout.release(pkg.version),
      integrity: staged.marker.integrity,
      alreadyInstalled: false,
      reused: staged.reused,
      fallback: staged.fallback,
      ...(signatures ? { signatures: signatures.status, provenance: signatures.provenance } : {}),
    };
  } catch (error) {
    throw await abandonStaging(session, layout.stagingDir(stagingId), error);
  } finally {
    await removeTree(layout.stagingDir(stagingId)).catch(() => undefined);
  }
}

/** The tree last kept for `spec`, revalidated from now on; undefined when there is none to guess (tree-ahead.ts). */
function guessTree(session: StagingSession, spec: string, node: string | undefined): TreeAhead | undefined {
  const { config, runtime } = session;
  let normalized: string;
  try {
    normalized = normalizeSpec(spec, config);
  } catch {
    return undefined; // resolvePackage says why
  }
  return startTreeAhead({
    spec: normalized,
    where: runtime.cwd,
    packageName: config.package,
    flat: flatNpmOptions(runtime.npmConfig, runtime.npmCache, config.registry),
    npmConfig: runtime.npmConfig,
    registry: config.registry,
    nodePath: path.resolve(node ?? config.node ?? process.execPath),
    signal: runtime.signal,
  });
}

/** Rename a sealed staged release into releases/<version> and journal it: the end of install and adopt. */
/**
 * `inodes`/`earlier`: the earlier releases' inodes dedupe linked to; every ctime they moved (the links,
 * +i on the new release) is behind us once it is immutable, so their fingerprints are carried then.
 */
export async function commitRelease(
  session: StagingSession,
  staged: {
    dir: string;
    marker: ReleaseMarker;
    inodes?: ReadonlyMap<string, LinkedInode>;
    earlier?: readonly string[];
    alreadyImmutable?: ReadonlySet<string>;
    /** Paths whose hash is the store's word: recorded without a fingerprint (the first activation re-hashes them). */
    unproven?: ReadonlySet<string>;
    /** Staged for another Node than the service's: the release runs on it (ReleaseRecord.node). */
    runsOn?: NodeRef;
  },
  state: ReleaseState,
): Promise<void> {
  const { layout, journal } = session;
  const { version } = staged.marker;
  await journal.commit('install:sealed');
  await fs.rename(staged.dir, layout.release(version));
  await fsyncDir(layout.releases);
  await sealReleaseTop(layout.release(version));
  // After the rename: an immutable directory cannot move. Files linked to an immutable release's
  // inodes carry the attribute already (setting it again would only move their ctime once more).
  await makeReleaseImmutable(layout, staged.marker, staged.alreadyImmutable);
  if (staged.marker.immutable)
    session.runtime.onProgress({ phase: 'seal', message: `releases/${version} made immutable` });
  // Last: after every step that moves a ctime (links, chmod, +i), or every fingerprint is stale at once.
  // The earlier releases' records and the new one's are separate files: written side by side, their
  // fsyncs share the filesystem's journal commits instead of waiting for one each.
  // Before the earlier records are refreshed: they vouch for the store's inodes as they were before the links.
  // One stat of each entry, for its fingerprint and for what the store's word on it is worth.
  const fingerprints = await statEntries(
    layout.release(version),
    staged.marker.files.map((entry) => entry.path),
  );
  const unproven =
    staged.unproven?.size && staged.inodes && staged.earlier
      ? await stillUnproven(layout, {
          marker: staged.marker,
          unproven: staged.unproven,
          inodes: staged.inodes,
          earlier: staged.earlier,
          fingerprints,
        })
      : staged.unproven;
  const written = await Promise.allSettled([
    staged.inodes && staged.earlier
      ? refreshAfterLinks(layout, staged.earlier, staged.inodes, byInode(fingerprints))
      : undefined,
    recordFingerprints(layout, version, layout.release(version), unproven, fingerprints),
  ]);
  for (const outcome of written) if (outcome.status === 'rejected') throw outcome.reason;
  session.runtime.onProgress({
    phase: 'seal',
    message: `fingerprints recorded${staged.inodes?.size ? `, and carried for ${staged.inodes.size} inodes of earlier releases linked to` : ''}${unproven?.size ? `; ${unproven.size} file(s) taken from the store that no earlier release vouches for: the first activation re-hashes them` : ''}`,
  });
  crashPoint('install:renamed');
  const signatures = staged.marker.signatures;
  session.ledger.recordRelease({
    version,
    state,
    pinned: false,
    installedAt: staged.marker.installedAt,
    integrity: staged.marker.integrity,
    source: staged.marker.source,
    ...(signatures ? { signatures: signatures.status, provenance: signatures.provenance } : {}),
    ...(staged.runsOn && { node: { path: staged.runsOn.path, version: staged.runsOn.version } }),
  });
  session.ledger.endOperation();
  await journal.commit('install:done');
}

/** Remove what staging made (first, so a full disk has room for the journal) and close the operation. */
export async function abandonStaging(session: StagingSession, dir: string, error: unknown): Promise<unknown> {
  const { journal } = session;
  await removeTreeKeepingReleases(layoutOf(journal.root), dir).catch(() => undefined);
  session.ledger.endOperation();
  await journal.commit().catch(() => undefined);
  // The caller's own abort reason (the CLI's names the signal) says who stopped it, not what became of the work.
  const signal = isReleaseSwitcherError(error) && error.code === 'CANCELLED' ? error.details?.signal : undefined;
  if (typeof signal === 'string') {
    return new ReleaseSwitcherError('CANCELLED', `Staging was cancelled by ${signal}; nothing was changed.`, {
      hint: 'Run the install again; nothing of the cancelled one was kept.',
      cause: error,
      details: { signal },
    });
  }
  if (isReleaseSwitcherError(error)) return error;
  if ((error as Error)?.name === 'AbortError') {
    return new ReleaseSwitcherError('CANCELLED', 'Staging was cancelled; nothing was changed.', { cause: error });
  }
  return asDiskFull(error, 'staging');
}

/** Releases to share identical files with: current first, then the newest others. */
export async function reuseCandidates(session: JournalSession): Promise<string[]> {
  const current = await readLinkVersion(session.layout, 'current');
  const others = Object.keys(session.journal.state.releases)
    .filter((version) => version !== current)
    .sort(compareVersionsDesc);
  return [...(current ? [current] : []), ...others];
}
