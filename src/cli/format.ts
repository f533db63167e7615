/** Plain-text rendering of results for people (stdout when not --json). */
import type { Transaction } from '../journal.js';

export function describeTransaction(tx: Transaction | null): string {
  if (!tx) return 'no transaction yet';
  const arrow = `${tx.from ?? '(none)'} → ${tx.to ?? '(none)'}`;
  const steps = tx.steps.map((s) => `  ${s.name.padEnd(15)} ${s.status.padEnd(8)} ${String(s.ms).padStart(6)} ms${s.detail ? `  ${s.detail}` : ''}`);
  return [`${tx.kind} ${arrow}: ${tx.status}${tx.reason ? ` (${tx.reason})` : ''}  [${tx.id}]`, ...steps].join('\n');
}

/** Exit code of a transaction that ended without an error (CONTRACT.md). */
export function transactionExitCode(tx: Transaction): number {
  switch (tx.status) {
    case 'rolled_back':
      return 3;
    case 'rollback_failed':
      return 4;
    case 'failed':
      return 1;
    case 'scheduled':
      return 75;
    default:
      return 0;
  }
}
