/**
 * The transaction state machine: the statuses, the transitions between them, and the only code that
 * writes a transaction's `status`, closes it (finishedAt + history) or changes a release's `state`.
 * Everything else asks here, so an impossible move (a verified transaction rolling back, a bad
 * release becoming good by accident) is an internal error at the line that tried it, not a
 * journal that lies.
 */
import { ReleaseSwitcherError } from '../model/errors.js';
import {
  type ReleaseRecord,
  type ReleaseState,
  TERMINAL_STATUSES,
  type TerminalStatus,
  type Transaction,
  type TransactionKind,
  type TransactionStatus,
} from '../model/state.js';
import { type Journal, newId } from '../store/journal.js';

/** How a transaction starts: run now, handed to a runner, or left rolling back by the boot-check. */
export type OpeningStatus = 'switching' | 'scheduled' | 'rolling_back';

/**
 * Every legal move. `failed` from any in-flight status is recovery undoing a transaction that had not
 * flipped; a status to itself is recovery resuming a step it was killed in; `switched` from a
 * post-flip status is recovery finishing under supervisor `none`.
 */
export const TRANSITIONS: Readonly<Record<TransactionStatus, readonly TransactionStatus[]>> = {
  scheduled: ['staging', 'switching', 'failed'],
  staging: ['scheduled', 'failed'],
  switching: ['switching', 'up_to_date', 'switched', 'restarting', 'verifying', 'rolling_back', 'failed'],
  restarting: ['restarting', 'verifying', 'rolling_back', 'switched', 'failed'],
  verifying: ['restarting', 'verifying', 'verified', 'rolling_back', 'switched', 'failed'],
  rolling_back: ['rolling_back', 'rolled_back', 'rollback_failed', 'switched', 'failed'],
  verified: [],
  switched: [],
  up_to_date: [],
  rolled_back: [],
  rollback_failed: [],
  failed: [],
};

export function isTerminal(status: TransactionStatus): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

export function canTransition(from: TransactionStatus, to: TransactionStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

function illegal(what: string): ReleaseSwitcherError {
  return new ReleaseSwitcherError('INTERNAL', `Illegal transition: ${what}.`, {
    hint: 'This is a bug in release-switcher; please report it with release-switcher status --json.',
  });
}

/** Move `tx` to an in-flight status (terminal ones go through `close`). */
export function transition(
  tx: Transaction,
  to: TransactionStatus,
  changes: Partial<Pick<Transaction, 'reason'>> = {},
): void {
  if (isTerminal(to)) throw illegal(`${tx.status} -> ${to} must close the transaction`);
  if (!canTransition(tx.status, to)) throw illegal(`transaction ${tx.id} ${tx.status} -> ${to}`);
  tx.status = to;
  if ('reason' in changes) tx.reason = changes.reason ?? null;
}

export interface OpenRequest {
  kind: TransactionKind;
  status: OpeningStatus;
  from: string | null;
  to: string;
  before?: Transaction['before'];
  reason?: string;
}

/** A new transaction (not yet in the journal). A scheduled one carries when it was handed over. */
export function openTransaction(request: OpenRequest): Transaction {
  const now = new Date().toISOString();
  const tx: Transaction = {
    id: newId(),
    kind: request.kind,
    status: request.status,
    from: request.from,
    to: request.to,
    reason: request.reason ?? null,
    startedAt: now,
    finishedAt: null,
    steps: [],
  };
  if (request.before) tx.before = request.before;
  if (request.status === 'scheduled') tx.scheduledAt = now;
  return tx;
}

/** How a transaction ends: its terminal status, and its reason (undefined: the reason it has stays). */
export interface Closing {
  status: TerminalStatus;
  reason?: string | null | undefined;
}

/**
 * Close `tx` with a terminal status: its steps still running are failed, it gets its finishedAt and,
 * when it is the journal's transaction in flight, moves to history. The caller commits.
 */
export function closeTransaction(journal: Journal | null, tx: Transaction, closing: Closing): Transaction {
  const { status, reason } = closing;
  if (!isTerminal(status)) throw illegal(`${status} is not a closing status`);
  if (!canTransition(tx.status, status)) throw illegal(`transaction ${tx.id} ${tx.status} -> ${status}`);
  tx.status = status;
  if (reason !== undefined) tx.reason = reason;
  for (const step of tx.steps) if (step.status === 'running') step.status = 'failed';
  tx.finishedAt = new Date().toISOString();
  if (journal && journal.state.transaction === tx) journal.archiveTransaction();
  return tx;
}

/** Legal moves of a release's state. `bad` is final until a verification proves it good again. */
export const RELEASE_TRANSITIONS: Readonly<Record<ReleaseState, readonly ReleaseState[]>> = {
  installed: ['pending', 'good', 'bad'],
  pending: ['pending', 'good', 'bad'],
  good: ['pending', 'good', 'bad'],
  bad: ['good', 'bad'],
};

/** Change a release's state; `reason` is kept with `bad` only. */
export function setReleaseState(record: ReleaseRecord, state: ReleaseState, reason?: string): void {
  if (!RELEASE_TRANSITIONS[record.state].includes(state))
    throw illegal(`release ${record.version} ${record.state} -> ${state}`);
  record.state = state;
  if (state === 'bad' && reason !== undefined) record.reason = reason;
}

/** After a flip: a release never started before becomes pending (the boot-check counts its starts). */
export function markPending(record: ReleaseRecord | undefined): void {
  if (record && record.state === 'installed') setReleaseState(record, 'pending');
}

/** A verified release is good, except one already judged bad on this way (a rollback never unmarks it). */
export function markGood(record: ReleaseRecord | undefined, options: { overrideBad: boolean }): void {
  if (record && (options.overrideBad || record.state !== 'bad')) setReleaseState(record, 'good');
}
