import { switchTo } from '../../commands/switch.js';
import { ReleaseSwitcherError } from '../../errors.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { describeTransaction, transactionExitCode } from '../format.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const version = ctx.positionals[0];
  if (!version) throw new ReleaseSwitcherError('USAGE', 'switch needs a VERSION.', { hint: 'See the installed ones with: release-switcher list' });
  const tx = await switchTo({ root: ctx.root, version, ...ctx.runtime });
  return { result: tx, human: describeTransaction(tx), exitCode: transactionExitCode(tx) };
}
