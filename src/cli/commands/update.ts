import { planInstall } from '../../commands/install.js';
import { update } from '../../commands/update.js';
import { openSession } from '../../store/session.js';
import { channelTag } from '../../registry/fetch.js';
import { describePlan } from './install.js';
import { handoffOf } from '../options.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { transactionOutcome } from '../format.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const spec = ctx.positionals[0];
  if (ctx.values['dry-run']) {
    const { config } = await openSession({ root: ctx.root, ...ctx.runtime });
    return describePlan(await planInstall({ root: ctx.root, spec: spec ?? `${config.package}@${channelTag(config)}`, ...ctx.runtime }), true);
  }
  return transactionOutcome(await update({ root: ctx.root, ...(spec ? { spec } : {}), handoff: handoffOf(ctx), preflight: ctx.values['no-preflight'] !== true, ...ctx.runtime }));
}
