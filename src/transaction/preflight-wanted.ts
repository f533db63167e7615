import type { Transaction } from '../model/state.js';
import type { Config } from '../store/config.js';
import type { JournalSession } from '../store/session.js';

/**
 * Whether the root's config asks for a rehearsal (a command and a health URL to probe it on). Every
 * activation asks, so it lives apart from the rehearsal's own modules, loaded only when one runs.
 */
export function preflightWanted(config: Config): boolean {
  return Boolean(config.preflight && config.healthUrl);
}

/**
 * Why `tx` needs no rehearsal, or undefined when it does: its target was verified (`good`) and starts
 * on the snapshot taken when it was left (check-state asked for that restore). That is the rollback
 * users reach for in a hurry, and a rehearsal would only repeat, on the same release and the same
 * state, what its verification showed. A target never verified here, or one that would start on
 * state a newer release wrote, is rehearsed.
 */
export function knownGoodReturn(session: JournalSession, tx: Transaction): string | undefined {
  const target = tx.to!;
  const record = session.journal.state.releases[target];
  if (record?.state !== 'good' || tx.restore?.version !== target) return undefined;
  // Verified on another Node than the one it is moving to: that is not what its verification showed.
  if (tx.runtime && record.node?.path !== tx.runtime.to.path) return undefined;
  return `${target} was verified here and starts on the state it was left with (snapshot ${tx.restore.snapshot}): nothing to rehearse`;
}
