import { bootCheck } from '../../verbs/boot-check.js';
import type { CommandContext, CommandOutcome } from '../context.js';

/** Never fails the start it runs before: every error is reported and the exit code is 0. */
export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const tries = ctx.values.tries === undefined ? undefined : Number(ctx.values.tries);
  try {
    const result = await bootCheck({
      root: ctx.root,
      env: ctx.runtime.env,
      ...(tries !== undefined && Number.isInteger(tries) && tries > 0 ? { maxTries: tries } : {}),
    });
    const human =
      result.action === 'flipped-back'
        ? `boot-check: ${result.version} started ${result.tries - 1} times unverified; current -> ${result.now}`
        : `boot-check: ${result.version ?? '(no current)'} ${result.action}${result.tries ? ` (start ${result.tries})` : ''}${result.detail ? `: ${result.detail}` : ''}${result.stateError ? ` (${result.stateError})` : ''}`;
    return { result, human };
  } catch (error) {
    process.stderr.write(`boot-check: ${(error as Error).message} (ignored: the start goes on)\n`);
    return { result: { action: 'error', error: (error as Error).message }, human: 'boot-check: error ignored' };
  }
}
