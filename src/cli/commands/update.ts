import { update } from '../../commands/update.js';
import { ReleaseSwitcherError } from '../../errors.js';
import type { HandoffOptions } from '../../schedule.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { transactionOutcome } from '../format.js';

export function handoffOf(ctx: CommandContext): HandoffOptions['handoff'] {
  const value = ctx.values.handoff ?? 'auto';
  if (value !== 'auto' && value !== 'always' && value !== 'never') {
    throw new ReleaseSwitcherError('USAGE', `--handoff takes auto, always or never, not "${String(value)}".`, { hint: 'For example --handoff never' });
  }
  return value;
}

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const spec = ctx.positionals[0];
  return transactionOutcome(await update({ root: ctx.root, ...(spec ? { spec } : {}), handoff: handoffOf(ctx), ...ctx.runtime }));
}
