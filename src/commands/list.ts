import semver from 'semver';
import { type ReleaseState, type Transaction, readState, runnerNeverRan } from '../journal.js';
import { readLinkVersion } from '../links.js';
import { type RootOptions, openSession } from '../session.js';

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

export function compareVersionsDesc(a: string, b: string): number {
  return semver.valid(a) && semver.valid(b) ? semver.rcompare(a, b) : b.localeCompare(a);
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
  const view = tx && runnerNeverRan(tx) ? { ...tx, status: 'failed' as const, reason: 'runner_never_ran' } : tx;
  return { current, previous, transaction: publicTransaction(view) };
}

/** A transaction as CONTRACT.md shows it (internal bookkeeping removed). */
export function publicTransaction(tx: Transaction | null): Transaction | null {
  if (!tx) return null;
  const { before: _before, ...rest } = tx;
  return rest;
}
