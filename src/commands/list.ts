import { readState, runnerGone } from '../store/journal.js';
import { type ReleaseState, type Transaction, publicTransaction } from '../model/state.js';
import { readLinkVersion } from '../store/links.js';
import { compareVersionsDesc } from '../store/release.js';
import { type RootOptions, openSession } from '../store/session.js';

export interface ReleaseInfo {
  version: string;
  state: ReleaseState;
  current: boolean;
  previous: boolean;
  pinned: boolean;
  installedAt: string;
  integrity: string | null;
  source: string;
  /** Why it is bad, when it is. */
  reason?: string;
}

export interface ListResult {
  current: string | null;
  previous: string | null;
  /** Newest version first. */
  releases: ReleaseInfo[];
}


/** All releases with their marks. Reads only; takes no lock. */
export async function list(options: RootOptions): Promise<ListResult> {
  const { layout } = await openSession(options);
  const [state, current, previous] = await Promise.all([readState(layout.root), readLinkVersion(layout, 'current'), readLinkVersion(layout, 'previous')]);
  const releases = Object.values(state.releases)
    .map((record): ReleaseInfo => ({
      version: record.version,
      state: record.state,
      current: record.version === current,
      previous: record.version === previous,
      pinned: record.pinned,
      installedAt: record.installedAt,
      integrity: record.integrity,
      source: record.source,
      ...(record.reason ? { reason: record.reason } : {}),
    }))
    .sort((a, b) => compareVersionsDesc(a.version, b.version));
  return { current, previous, releases };
}

export interface StatusResult {
  current: string | null;
  previous: string | null;
  /** The transaction in flight, else the last one, else null. */
  transaction: Transaction | null;
}

/** Where things stand. Reads only; takes no lock. */
export async function status(options: RootOptions): Promise<StatusResult> {
  const { layout } = await openSession(options);
  const [state, current, previous] = await Promise.all([readState(layout.root), readLinkVersion(layout, 'current'), readLinkVersion(layout, 'previous')]);
  const tx = state.transaction ?? state.history.at(-1) ?? null;
  // A runner that never reported is not in flight forever: say so, as recovery will record it.
  const gone = tx && runnerGone(tx);
  const view = tx && gone ? { ...tx, status: 'failed' as const, reason: gone } : tx;
  return { current, previous, transaction: publicTransaction(view) };
}
