import { type Transaction, publicTransaction } from '../model/state.js';
import { mutate } from '../transaction/mutate.js';
import type { RootOptions } from '../store/session.js';

export interface RecoverResult {
  transaction: Transaction | null;
  actions: string[];
}

/** Finish or undo an interrupted transaction and sweep leftovers. Every mutating command does this first. */
export async function recover(options: RootOptions): Promise<RecoverResult> {
  return mutate(options, 'recover', async ({ recovery }) => ({
    transaction: publicTransaction(recovery.transaction),
    actions: recovery.actions,
  }));
}
