// A transaction as the journal records it, for tests that only read one (describing, reporting, rendering).
import type { Transaction } from '../../src/model/state.ts';

/** A verified update 2026.9.5 → 2026.9.6, id `t1`, no steps, with `fields` over it. */
export function updateTransaction(fields: Partial<Transaction> = {}): Transaction {
  return {
    id: 't1',
    kind: 'update',
    status: 'verified',
    from: '2026.9.5',
    to: '2026.9.6',
    reason: null,
    startedAt: '2026-11-25T00:00:00.000Z',
    finishedAt: '2026-11-25T00:01:00.000Z',
    steps: [],
    ...fields,
  };
}
