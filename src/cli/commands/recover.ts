import { recover } from '../../verbs/recover.js';
import { ReleaseSwitcherError } from '../../model/errors.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { describeTransaction } from '../format.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const { transaction, actions } = await recover({ root: ctx.root, ...ctx.runtime });
  // Recovery itself announced the links it set aside (every command says so, not only this one).
  for (const action of actions.filter((a) => !a.startsWith('set aside ')))
    ctx.runtime.onProgress?.({ phase: 'recover', message: action }); // the phase names it: "recover: …"
  // docs/exit-codes-and-json.md: a transaction that ends rollback_failed needs a human (exit 4), whoever closed it.
  if (transaction?.status === 'rollback_failed') {
    throw new ReleaseSwitcherError(
      'ROLLBACK_FAILED',
      `recover: ${transaction.to} failed (${transaction.reason}) and ${transaction.from ?? 'no earlier release'} could not be brought back.`,
      {
        hint: transaction.hint ?? 'See release-switcher status.',
        result: transaction,
      },
    );
  }
  return {
    result: transaction,
    human: actions.length
      ? [...actions, ...(transaction ? [describeTransaction(transaction)] : [])].join('\n')
      : 'nothing to recover',
  };
}
