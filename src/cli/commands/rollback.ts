import { rollback } from '../../commands/switch.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { describeTransaction, transactionExitCode } from '../format.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const tx = await rollback({ root: ctx.root, ...(ctx.positionals[0] ? { version: ctx.positionals[0] } : {}), ...ctx.runtime });
  return { result: tx, human: describeTransaction(tx), exitCode: transactionExitCode(tx) };
}
