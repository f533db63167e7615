import { errnoOf } from '../../model/errors.js';
import { asPermissionDenied } from '../../platform/permission.js';
import { scrubEnvironment } from '../../platform/privileged-env.js';
import { bootCheck } from '../../verbs/boot-check.js';
import type { CommandContext, CommandOutcome } from '../context.js';

/**
 * Never fails the start it runs before for what it finds (a release to count, a checkpoint to take): every such error
 * is reported and the exit code is 0. Except when it cannot do its work at all: an account that may not read or
 * write the root, or a root the unit's sandbox makes read-only (ProtectSystem=, ReadWritePaths=). Then the start
 * fails loudly (the error, exit 1: the unit treats it as a failed start), since a boot-check that silently does
 * nothing would let a crash-looping release loop forever and start a release on state it cannot read.
 */
export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  // As root (the unit's `+` boot-check, run for the service's account), nothing of the unit's environment stays in this
  // process: its PATH, NODE_OPTIONS, LD_* may be the account's choice. The unit line starts it through `env -i` already;
  // this covers a drop-in written before it did, and whatever reads process.env itself.
  if (process.getuid?.() === 0) scrubEnvironment(process.env);
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
    if (cannotWork(error)) throw asPermissionDenied(error, 'checking the start (boot-check)', ctx.root);
    process.stderr.write(`boot-check: ${(error as Error).message} (ignored: the start goes on)\n`);
    return { result: { action: 'error', error: (error as Error).message }, human: 'boot-check: error ignored' };
  }
}

function cannotWork(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === 'PERMISSION_DENIED' || ['EACCES', 'EPERM', 'EROFS'].includes(errnoOf(error) ?? '');
}
