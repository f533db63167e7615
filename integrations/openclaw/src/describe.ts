/** How a status and a transaction read in a conversation. */
import type { Transaction, UpdateStatus } from 'release-switcher';

export function describeStatus(status: UpdateStatus): string {
  const lines = [
    `Running: ${status.running?.version ?? 'unknown'} (current ${status.current ?? 'none'}, previous ${status.previous ?? 'none'}).`,
  ];
  const tx = status.transaction;
  if (tx) lines.push(`Last: ${describeTransaction(tx)}${status.inFlight ? ' (in progress)' : ''}.`);
  const warnings = tx ? describeWarnings(tx) : '';
  if (warnings) lines.push(warnings);
  return lines.join('\n');
}

export function describeTransaction(tx: Transaction): string {
  return `${tx.kind} ${tx.from ?? '?'} → ${tx.to ?? '?'}: ${tx.status}${tx.reason ? ` (${tx.reason})` : ''}`;
}

/** The warnings a transaction passed on (OpenClaw's finalize: Doctor's and the plugins'), a line each; '' for none. */
export function describeWarnings(tx: Transaction): string {
  return (tx.warnings ?? [])
    .map(
      // One line each: a message's own line breaks (Doctor's guidance) become spaces.
      (w) =>
        `Warning (${[w.step, w.plugin && `plugin ${w.plugin}`, w.code].filter(Boolean).join(', ')}): ${w.message.replace(/\s*\n\s*/g, ' ')}`,
    )
    .join('\n');
}
