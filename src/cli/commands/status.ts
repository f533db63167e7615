import { status } from '../../verbs/status.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { describeTransaction, statusStory } from '../format.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const result = await status({ root: ctx.root, ...ctx.runtime });
  return { result, human: `${statusStory(result)}\n\n${describeTransaction(result.transaction)}` };
}
