import { planRollback, rollback } from '../../verbs/switch.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { describeSwitchPlan } from '../format.js';
import { settle } from '../follow.js';
import { checkpointOf, handoffOf, runOnNodeOf, transactionFlagsOf } from '../options.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const version = ctx.positionals[0];
  if (ctx.values['dry-run']) {
    const plan = await planRollback({
      root: ctx.root,
      ...(version ? { version } : {}),
      ...checkpointOf(ctx),
      ...runOnNodeOf(ctx),
      ...ctx.runtime,
    });
    return { result: plan, human: describeSwitchPlan(plan) };
  }
  return settle(
    ctx,
    await rollback({
      root: ctx.root,
      ...(version ? { version } : {}),
      handoff: handoffOf(ctx),
      ...transactionFlagsOf(ctx),
      ...ctx.runtime,
    }),
  );
}
