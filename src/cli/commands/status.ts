import { status } from '../../commands/list.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { describeTransaction } from '../format.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const result = await status({ root: ctx.root, ...ctx.runtime });
  return { result, human: [`current:  ${result.current ?? '(none)'}`, `previous: ${result.previous ?? '(none)'}`, `last:     ${describeTransaction(result.transaction)}`].join('\n') };
}
