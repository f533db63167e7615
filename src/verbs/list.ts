import { readState } from '../store/journal.js';
import type { NodeRef, ReleaseState, Transaction, TransactionOrigin, TransactionWarning } from '../model/state.js';
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
  /** Registry signature check at install (absent for releases installed before it existed). */
  signatures?: 'verified' | 'unsigned' | 'skipped';
  /** The version announced a provenance attestation. */
  provenance?: boolean;
  /** The Node it runs on (a switch to it moves the service there), once recorded. */
  node?: NodeRef;
  /**
   * What the last activation that verified it passed on (a readiness lost, a finalize warning: status shows the same),
   * when it passed anything on.
   */
  warnings?: TransactionWarning[];
  /**
   * Who made it current the last time and why: the origin of the last transaction that activated it (verified, or
   * switched under supervisor none), with that transaction's id and end. Absent when none recorded an origin.
   */
  activatedBy?: TransactionOrigin & { transaction: string; at: string };
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
  const [state, current, previous] = await Promise.all([
    readState(layout.root),
    readLinkVersion(layout, 'current'),
    readLinkVersion(layout, 'previous'),
  ]);
  const releases = Object.values(state.releases)
    .map(
      (record): ReleaseInfo => ({
        version: record.version,
        state: record.state,
        current: record.version === current,
        previous: record.version === previous,
        pinned: record.pinned,
        installedAt: record.installedAt,
        integrity: record.integrity,
        source: record.source,
        ...(record.reason ? { reason: record.reason } : {}),
        ...(record.signatures ? { signatures: record.signatures, provenance: record.provenance === true } : {}),
        ...(record.node && { node: record.node }),
        ...warningsOf(verifiedLast(state.history, record.version)),
        ...activationOf(state.history, record.version),
      }),
    )
    .sort((a, b) => compareVersionsDesc(a.version, b.version));
  return { current, previous, releases };
}

/** The last transaction of `history` (oldest first) that verified `version`. */
function verifiedLast(history: readonly Transaction[], version: string): Transaction | undefined {
  return history.findLast((tx) => tx.to === version && tx.status === 'verified');
}

const warningsOf = (tx: Transaction | undefined) => (tx?.warnings?.length ? { warnings: [...tx.warnings] } : {});

/** The origin of the last transaction of `history` that made `version` current. */
function activationOf(history: readonly Transaction[], version: string): Pick<ReleaseInfo, 'activatedBy'> {
  const tx = history.findLast((t) => t.to === version && (t.status === 'verified' || t.status === 'switched'));
  return tx?.origin ? { activatedBy: { ...tx.origin, transaction: tx.id, at: tx.finishedAt ?? tx.startedAt } } : {};
}
