import { planSwitchTo, switchTo } from '../../verbs/switch.js';
import { ReleaseSwitcherError } from '../../model/errors.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { describeSwitchPlan } from '../format.js';
import { settle } from '../follow.js';
import { checkpointOf, handoffOf, runOnNodeOf, transactionFlagsOf } from '../options.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const version = ctx.positionals[0];
  if (!version)
    throw new ReleaseSwitcherError('USAGE', 'switch needs a VERSION.', {
      hint: 'See the installed ones with: release-switcher list',
    });
  if (ctx.values['dry-run']) {
    const plan = await planSwitchTo({
      root: ctx.root,
      version,
      preflight: ctx.values['no-preflight'] !== true,
      ...checkpointOf(ctx),
      ...runOnNodeOf(ctx),
      ...ctx.runtime,
    });
    return { result: plan, human: describeSwitchPlan(plan) };
  }
  return settle(
    ctx,
    await switchTo({
      root: ctx.root,
      version,
      handoff: handoffOf(ctx),
      ...transactionFlagsOf(ctx),
      ...ctx.runtime,
    }),
  );
}
