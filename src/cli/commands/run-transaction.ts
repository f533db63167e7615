import { ReleaseSwitcherError } from '../../model/errors.js';
import { runScheduled } from '../../transaction/schedule.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { transactionOutcome } from '../format.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const id = ctx.positionals[0];
  if (!id)
    throw new ReleaseSwitcherError('USAGE', 'run-transaction needs an ID.', {
      hint: 'It is started by release-switcher itself.',
    });
  return transactionOutcome(await runScheduled({ root: ctx.root, id, ...ctx.runtime, waitSeconds: 60 }));
}
