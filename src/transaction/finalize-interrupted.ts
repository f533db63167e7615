/**
 * Recovery's question about finalize (transaction/finalize-step.ts), without loading it: did a killed runner leave the
 * `restart-handoff` or `finalize` step running? Then the service was stopped for the target's finalize, and the transaction goes
 * back (recover.ts planResume). Kept apart so every mutation's recovery check stays light.
 */
import type { Step, Transaction } from '../model/state.js';

export function interruptedFinalize(tx: Transaction): Step | undefined {
  return tx.steps.find(
    (step) => (step.name === 'finalize' || step.name === 'restart-handoff') && step.status === 'running',
  );
}
