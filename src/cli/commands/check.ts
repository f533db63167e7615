import { check } from '../../autoupdate/index.js';
import type { CommandContext, CommandOutcome } from '../context.js';

/** Read-only, and "nothing to do" is an answer, not a failure: exit 0 whatever the policy says. */
export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const result = await check({ root: ctx.root, ...ctx.runtime });
  const lines = [
    `current:  ${result.current ?? '(none)'}`,
    `channel:  ${result.channel} (at ${result.latest ?? 'no version'})`,
    `action:   ${result.action}${'version' in result ? ` ${result.version}` : ''} (${result.reason})`,
    `why:      ${result.detail}`,
    ...(result.rollout.bucket === null
      ? []
      : [`rollout:  bucket ${result.rollout.bucket} of 100, ${result.rollout.percent} % take it`]),
  ];
  return { result, human: lines.join('\n') };
}
