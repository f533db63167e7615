import { autoUpdate } from '../../autoupdate/index.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { settle } from '../follow.js';
import { handoffOf } from '../options.js';

/** A skipped tick (disabled, busy, nothing to do) exits 0: the timer must not show as failed for it. */
export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const result = await autoUpdate({ root: ctx.root, handoff: handoffOf(ctx), ...ctx.runtime });
  if ('skipped' in result)
    return {
      result,
      human: `auto-update skipped (${result.skipped}): ${result.skipped === 'nothing_to_do' && result.check ? result.check.detail : result.reason}`,
    };
  return settle(ctx, result);
}
