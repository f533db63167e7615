import { ReleaseSwitcherError } from '../../model/errors.js';
import { planInstall } from '../../verbs/install.js';
import { planUpdate, update } from '../../verbs/update.js';
import { openSession } from '../../store/session.js';
import { describePlan } from './install.js';
import { signaturePolicy, transactionFlagsOf } from '../options.js';
import { handoffOf, runOnNodeOf } from '../options.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { describeSwitchPlan } from '../format.js';
import { settle } from '../follow.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const spec = ctx.positionals[0];
  const channel = typeof ctx.values.channel === 'string' ? ctx.values.channel : undefined;
  if (spec !== undefined && channel !== undefined)
    throw new ReleaseSwitcherError('USAGE', 'update takes a version or --channel, not both.', {
      hint: 'release-switcher update VERSION, or release-switcher update --channel beta',
    });
  const verifySignatures = signaturePolicy(ctx.values['verify-signatures']);
  if (ctx.values['dry-run']) {
    const session = await openSession({ root: ctx.root, ...ctx.runtime });
    // Without a version, the channel followed and where it was decided, as `check` names them.
    const chosen =
      spec === undefined
        ? // lazy: only a dry run that names no version reads the channel (and the registry's dist-tags)
          await (await import('../../transaction/channel.js')).channelUpdateSpec(session, channel)
        : undefined;
    const install = await planInstall({
      root: ctx.root,
      spec: spec ?? chosen!.spec,
      verifySignatures,
      ...ctx.runtime,
    });
    const plan = await planUpdate({ root: ctx.root, version: install.version, ...runOnNodeOf(ctx), ...ctx.runtime });
    // The plan's shape is switch's and rollback's, with the install plan beside it; the keys update --dry-run always
    // had stay at the top (but `from`, which is now the release switched from, as in every plan: the tarball's is install.from).
    const result = {
      ...install,
      ...plan,
      install,
      wouldSwitch: plan.action !== 'up_to_date',
      ...(chosen && { channel: chosen.choice.channel, channelFrom: chosen.choice.from }),
    };
    const followed = chosen ? `channel ${chosen.choice.channel} (${chosen.choice.from}): ${chosen.spec}\n` : '';
    return { result, human: `${followed}${describePlan(install, true).human}\n${describeSwitchPlan(plan)}` };
  }
  return settle(
    ctx,
    await update({
      root: ctx.root,
      ...(spec ? { spec } : {}),
      ...(channel ? { channel } : {}),
      verifySignatures,
      handoff: handoffOf(ctx),
      ...transactionFlagsOf(ctx),
      ...ctx.runtime,
    }),
  );
}
