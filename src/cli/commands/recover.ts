import { recover } from '../../commands/recover.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { describeTransaction } from '../format.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const { transaction, actions } = await recover({ root: ctx.root, ...ctx.runtime });
  for (const action of actions) ctx.runtime.onProgress?.({ phase: 'recover', message: `recover: ${action}` });
  return { result: transaction, human: actions.length ? [...actions, ...(transaction ? [describeTransaction(transaction)] : [])].join('\n') : 'nothing to recover' };
}
