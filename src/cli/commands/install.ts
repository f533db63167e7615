import { install } from '../../commands/install.js';
import { ReleaseSwitcherError } from '../../errors.js';
import type { CommandContext, CommandOutcome } from '../context.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const spec = ctx.positionals[0];
  if (!spec) throw new ReleaseSwitcherError('USAGE', 'install needs a SPEC.', { hint: 'For example: release-switcher install openclaw@latest' });
  const result = await install({ root: ctx.root, spec, ...ctx.runtime });
  return { result, human: result.alreadyInstalled ? `${result.version} is already installed at ${result.path}` : `installed ${result.version} at ${result.path}` };
}
