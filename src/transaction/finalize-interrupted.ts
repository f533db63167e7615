/**
 * Recovery's question about finalize (transaction/finalize-step.ts), without loading it: did a killed runner leave the
 * `restart-handoff` or `finalize` step running, with a finalize to run? Then the service was stopped for the target's
 * finalize, which may have written half of what it writes, and the transaction goes back (recover.ts planResume). One
 * with nothing to finalize (below) was cut in the stop or in putting a checkpoint back, before anything of the
 * target's ran: it is carried on. Kept apart so every mutation's recovery check stays light.
 */
import type { Step, Transaction } from '../model/state.js';

export function interruptedFinalize(tx: Transaction): Step | undefined {
  if (nothingToFinalize(tx)) return undefined;
  return tx.steps.find(
    (step) => (step.name === 'finalize' || step.name === 'restart-handoff') && step.status === 'running',
  );
}

/**
 * Why finalize is not run for `tx`, or undefined when it must run. A transaction that puts back the snapshot taken when
 * its target was left (state-return.ts: the one taken as the release being left came in from the target) starts the
 * target on the state it had finalized and served with, exactly: finalize would only repeat, in the stop window, what
 * that state already holds (90 s measured with a plugin). A move of the service alone to another Node (runtime.ts)
 * starts the release that served on the state it serves with.
 */
export function nothingToFinalize(tx: Transaction): string | undefined {
  if (tx.from === tx.to) return `not run: ${tx.to} finalized this state and served it already; only its Node changes`;
  if (!tx.restore || tx.restore.version !== tx.to) return undefined;
  return `not run: snapshot ${tx.restore.snapshot} was taken when ${tx.to} was left, so ${tx.to} starts on the state it finalized and served with`;
}
