import { planPrune, prune } from '../../verbs/prune.js';
import { ReleaseSwitcherError } from '../../model/errors.js';
import type { CommandContext, CommandOutcome } from '../context.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  let keep: number | undefined;
  if (ctx.values.keep !== undefined) {
    keep = Number(ctx.values.keep);
    if (!Number.isInteger(keep) || keep < 0)
      throw new ReleaseSwitcherError('USAGE', `--keep takes a whole number, not "${String(ctx.values.keep)}".`, {
        hint: 'For example --keep 2',
      });
  }
  if (ctx.values['dry-run']) {
    const plan = await planPrune({ root: ctx.root, ...ctx.runtime, ...(keep === undefined ? {} : { keep }) });
    return {
      result: plan,
      human: `${plan.removed.length ? `would remove ${plan.removed.join(', ')}` : 'nothing to remove'}; would keep ${plan.kept.join(', ') || 'none'}\n(dry run: nothing changed)`,
    };
  }
  const result = await prune({ root: ctx.root, ...ctx.runtime, ...(keep === undefined ? {} : { keep }) });
  return {
    result,
    human: result.removed.length
      ? `removed ${result.removed.join(', ')}; kept ${result.kept.join(', ')}`
      : `nothing to remove; kept ${result.kept.join(', ') || 'none'}`,
  };
}
