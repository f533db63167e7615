/** Plain-text rendering of results for people, and how a transaction maps to the envelope and exit code. */
import { ReleaseSwitcherError } from '../errors.js';
import type { Transaction } from '../journal.js';
import type { CommandOutcome } from './context.js';

export function describeTransaction(tx: Transaction | null): string {
  if (!tx) return 'no transaction yet';
  const arrow = `${tx.from ?? '(none)'} → ${tx.to ?? '(none)'}`;
  const steps = tx.steps.map((s) => `  ${s.name.padEnd(16)} ${s.status.padEnd(8)} ${String(s.ms).padStart(6)} ms${s.detail ? `  ${s.detail}` : ''}`);
  return [`${tx.kind} ${arrow}: ${tx.status}${tx.reason ? ` (${tx.reason})` : ''}  [${tx.id}]`, ...steps].join('\n');
}

/**
 * CONTRACT.md: `rolled_back` and `rollback_failed` are failures whose envelope carries the
 * transaction as `result` (exit 3 and 4); `scheduled` succeeds with exit 75.
 */
export function transactionOutcome(tx: Transaction): CommandOutcome {
  if (tx.status === 'rolled_back') {
    throw new ReleaseSwitcherError('ROLLED_BACK', `${tx.to} failed (${tx.reason}); ${tx.from} is running again and verified.`, {
      hint: `${tx.to} is marked bad. See why: release-switcher status`,
      result: tx,
    });
  }
  if (tx.status === 'rollback_failed') {
    throw new ReleaseSwitcherError('ROLLBACK_FAILED', `${tx.to} failed (${tx.reason}) and ${tx.from ?? 'no earlier release'} could not be brought back.`, {
      hint: tx.hint ?? 'See release-switcher status.',
      result: tx,
    });
  }
  const human = tx.status === 'scheduled' ? `${describeTransaction(tx)}\nhanded to a runner outside the service; follow it with: release-switcher status` : describeTransaction(tx);
  return { result: tx, human, exitCode: tx.status === 'scheduled' ? 75 : tx.status === 'failed' ? 1 : 0 };
}
