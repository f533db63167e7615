import { planSwitchTo, switchTo } from '../../commands/switch.js';
import type { SwitchPlan } from '../../transaction/plan.js';
import { ReleaseSwitcherError } from '../../model/errors.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { transactionOutcome } from '../format.js';
import { handoffOf } from '../options.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const version = ctx.positionals[0];
  if (!version) throw new ReleaseSwitcherError('USAGE', 'switch needs a VERSION.', { hint: 'See the installed ones with: release-switcher list' });
  if (ctx.values['dry-run']) {
    const plan = await planSwitchTo({ root: ctx.root, version, ...ctx.runtime });
    return { result: plan, human: describeSwitchPlan(plan) };
  }
  return transactionOutcome(await switchTo({ root: ctx.root, version, handoff: handoffOf(ctx), preflight: ctx.values['no-preflight'] !== true, ...ctx.runtime }));
}

/** A switch or rollback plan for people. */
export function describeSwitchPlan(plan: SwitchPlan): string {
  const head = `${plan.kind} ${plan.from ?? '(none)'} → ${plan.to}: ${plan.action === 'up_to_date' ? 'already current, nothing to do' : plan.action === 'refuse' ? 'would be refused' : `would run ${plan.steps.join(' → ')}`}`;
  const state = plan.state.action === 'none' ? [] : [`state: ${plan.state.action}: ${plan.state.detail}`];
  return [head, ...state, `supervisor: ${plan.supervisor}`, '(dry run: nothing changed)'].join('\n');
}
