import { crashPoint } from '../platform/crashpoint.js';
import { fsyncDir, removeTree } from '../platform/fs.js';
import { newId, readState } from '../store/journal.js';
import type { State } from '../model/state.js';
import type { Layout } from '../store/layout.js';
import { readLinkVersion } from '../store/links.js';
import { mutate } from '../transaction/mutate.js';
import { beginOperation, endOperation, forgetRelease } from '../transaction/record.js';
import { type RootOptions, openSession } from '../store/session.js';
import { pruneSnapshots } from '../snapshot/snapshot.js';
import { compareVersionsDesc } from '../store/release.js';
import { clearImmutable } from '../platform/immutable.js';
import { restoreImmutable } from '../store/immutable-release.js';
import { moveSealedDir } from '../store/seal.js';
import { removeFingerprints } from '../store/fingerprints.js';
import { type StoreGarbage, collectStoreGarbage } from '../store/store-gc.js';
import type { ProgressEvent } from '../model/runtime.js';

export interface PruneOptions extends RootOptions {
  /** How many releases to keep besides current, previous and pinned ones. @default config.keep */
  keep?: number;
}

export interface PruneResult {
  removed: string[];
  kept: string[];
  /** State snapshots removed (those of removed releases, and those a newer snapshot superseded); only when there were any. */
  removedSnapshots?: string[];
}

/**
 * Remove old releases: never current, previous or pinned ones (no transaction is in flight: we hold
 * the lock and recovery has settled any earlier one). Each goes by
 * one rename into staging/ (so releases/ never holds a half-deleted release), then is deleted.
 * State snapshots go with their releases (snapshot.ts `pruneSnapshots`), and so do their stat
 * fingerprint records (`fingerprints/<version>.json`).
 */
export async function prune(options: PruneOptions): Promise<PruneResult> {
  return mutate(options, 'prune', async ({ layout, config, journal, runtime }) => {
    const { removed, kept } = await choosePrune(layout, journal.state, options.keep ?? config.keep);
    const collect = async () => report(await collectStoreGarbage(layout), runtime.onProgress);
    if (removed.length === 0) {
      await collect();
      return withSnapshots({ removed, kept }, await pruneSnapshots(layout, new Set(kept)));
    }
    const id = newId();
    beginOperation(journal, { kind: 'prune', id, startedAt: new Date().toISOString(), versions: removed });
    await journal.commit('prune:begin');
    for (const version of removed) {
      const trash = layout.stagingDir(`prune-${id}-${version}`);
      await clearImmutable(layout.release(version)); // not even root may move or delete it before
      await moveSealedDir(layout.release(version), trash);
      await fsyncDir(layout.releases);
      crashPoint('prune:moved');
      forgetRelease(journal, version);
      await journal.commit();
      await removeTree(trash);
      // After the release: killed before this, the record is an orphan doctor reports (and --fix removes).
      await removeFingerprints(layout, version);
    }
    await restoreImmutable(layout, kept); // inodes the pruned release shared with these lost the attribute with it
    endOperation(journal);
    await journal.commit('prune:done');
    // After the releases (their links to store files gone with them), under the lock (no staging links meanwhile).
    await collect();
    // After the releases: a snapshot can only ever be restored for a release that is still installed.
    return withSnapshots({ removed, kept }, await pruneSnapshots(layout, new Set(kept)));
  });
}

/** The plan: which releases go (never current, previous or pinned; the newest `keep` others stay). */
async function choosePrune(layout: Layout, state: State, keep: number): Promise<PruneResult> {
  const protectedVersions = new Set(
    [await readLinkVersion(layout, 'current'), await readLinkVersion(layout, 'previous')].filter(
      (v): v is string => v !== null,
    ),
  );
  const candidates = Object.keys(state.releases)
    .sort(compareVersionsDesc)
    .filter((version) => !protectedVersions.has(version) && !state.releases[version]?.pinned);
  const removed = candidates.slice(keep);
  const kept = Object.keys(state.releases)
    .filter((v) => !removed.includes(v))
    .sort(compareVersionsDesc);
  return { removed, kept };
}

/** What `prune` would remove; reads only, takes no lock. (Snapshots go with their releases.) */
export async function planPrune(options: PruneOptions): Promise<PruneResult> {
  const { layout, config } = await openSession(options);
  return choosePrune(layout, await readState(layout.root), options.keep ?? config.keep);
}

/** The contract's `{removed, kept}`, plus the snapshots removed when there were any. */
function withSnapshots(result: PruneResult, removedSnapshots: string[]): PruneResult {
  return removedSnapshots.length > 0 ? { ...result, removedSnapshots } : result;
}

function report(garbage: StoreGarbage, progress: (event: ProgressEvent) => void): void {
  if (garbage.files > 0 || garbage.indexes > 0)
    progress({
      phase: 'prune',
      message: `store: removed ${garbage.files} file(s) (${garbage.bytes} bytes) no release links any more, and ${garbage.indexes} package index(es) whose files are gone`,
    });
}
