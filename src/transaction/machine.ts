/**
 * The transaction state machine's rules: the statuses, the legal moves between them and between a
 * release's states. record.ts, the record's one writer, applies them, so an impossible move (a verified
 * transaction rolling back, a bad release becoming good by accident) is an internal error at the line
 * that tried it, not a journal that lies.
 */
import { ReleaseSwitcherError } from '../model/errors.js';
import {
  type ReleaseState,
  TERMINAL_STATUSES,
  type TerminalStatus,
  type Transaction,
  type TransactionKind,
  type TransactionStatus,
} from '../model/state.js';
import type { OptionFlags } from './options.js';

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

export function illegal(what: string): ReleaseSwitcherError {
  return new ReleaseSwitcherError('INTERNAL', `Illegal transition: ${what}.`, {
    hint: 'This is a bug in release-switcher; please report it with release-switcher status --json.',
  });
}

/** How a transaction opens: what it is, and its options (options.ts), journaled with it. */
export interface OpenRequest extends OptionFlags {
  kind: TransactionKind;
  status: OpeningStatus;
  from: string | null;
  to: string;
  before?: Transaction['before'];
  reason?: string;
}

/** Legal moves of a release's state. `bad` is final until a verification proves it good again. */
export const RELEASE_TRANSITIONS: Readonly<Record<ReleaseState, readonly ReleaseState[]>> = {
  installed: ['pending', 'good', 'bad'],
  // pending -> installed: a flip undone before the release ever started (a restart sudo or polkit refused).
  pending: ['pending', 'good', 'bad', 'installed'],
  good: ['pending', 'good', 'bad'],
  bad: ['good', 'bad'],
};
