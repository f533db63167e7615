import { planInstall } from '../../commands/install.js';
import { update } from '../../commands/update.js';
import { openSession } from '../../store/session.js';
import { channelTag } from '../../registry/fetch.js';
import { describePlan } from './install.js';
import { signaturePolicy } from './init.js';
import { ReleaseSwitcherError } from '../../model/errors.js';
import type { HandoffOptions } from '../../transaction/schedule.js';
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
  const verifySignatures = signaturePolicy(ctx.values['verify-signatures']);
  if (ctx.values['dry-run']) {
    const { config } = await openSession({ root: ctx.root, ...ctx.runtime });
    return describePlan(await planInstall({ root: ctx.root, spec: spec ?? `${config.package}@${channelTag(config)}`, verifySignatures, ...ctx.runtime }), true);
  }
  return transactionOutcome(await update({ root: ctx.root, ...(spec ? { spec } : {}), verifySignatures, handoff: handoffOf(ctx), preflight: ctx.values['no-preflight'] !== true, ...ctx.runtime }));
}
