/** `--wait` on a scheduled transaction: its verdict, waited for, instead of the acceptance. */
import type { Transaction } from '../model/state.js';
import type { CommandContext, CommandOutcome } from './context.js';
import { transactionOutcome } from './format.js';

/**
 * The outcome of a transaction a command started. A `scheduled` one exits 0 (accepted work, docs/exit-codes-and-json.md); with
 * `--wait` (alone or with SECONDS, which bound only the wait for the lock) the command waits for the runner's verdict
 * and exits with its code, as a command that switched here would (docs/exit-codes-and-json.md, "Exit codes").
 */
export async function settle(ctx: CommandContext, tx: Transaction): Promise<CommandOutcome> {
  if (ctx.values.wait === undefined || tx.status !== 'scheduled') return transactionOutcome(tx);
  ctx.runtime.onProgress?.({ phase: 'verify', message: `${tx.kind} to ${tx.to} scheduled [${tx.id}]; following it` });
  const { followTransaction } = await import('../verbs/follow.js'); // lazy: only --wait on a scheduled transaction reads on
  return transactionOutcome(await followTransaction({ root: ctx.root, id: tx.id, ...ctx.runtime }));
}
