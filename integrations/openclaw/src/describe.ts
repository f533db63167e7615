/** How a status and a transaction read in a conversation. */
import type { Transaction, UpdateStatus } from 'release-switcher';

export function describeStatus(status: UpdateStatus): string {
  const lines = [
    `Running: ${status.running?.version ?? 'unknown'} (current ${status.current ?? 'none'}, previous ${status.previous ?? 'none'}).`,
  ];
  const tx = status.transaction;
  if (tx) lines.push(`Last: ${describeTransaction(tx)}${status.inFlight ? ' (in progress)' : ''}.`);
  return lines.join('\n');
}

export function describeTransaction(tx: Transaction): string {
  return `${tx.kind} ${tx.from ?? '?'} → ${tx.to ?? '?'}: ${tx.status}${tx.reason ? ` (${tx.reason})` : ''}`;
}
