import { ReleaseSwitcherError } from '../../model/errors.js';
import { timer } from '../../unit-files/timer.js';
import type { CommandContext, CommandOutcome } from '../context.js';

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const [install, remove] = [ctx.values.install === true, ctx.values.remove === true];
  if (install && remove)
    throw new ReleaseSwitcherError('USAGE', 'Pass --install or --remove, not both.', {
      hint: 'For example: release-switcher timer --install',
    });
  const every = str(ctx.values.every);
  const randomizedDelay = str(ctx.values['randomized-delay']);
  const result = await timer({
    root: ctx.root,
    ...ctx.runtime,
    install,
    remove,
    ...(every === undefined ? {} : { every }),
    ...(randomizedDelay === undefined ? {} : { randomizedDelay }),
  });
  const systemctl = result.scope === 'system' ? 'systemctl' : 'systemctl --user';
  if (result.installed)
    return {
      result,
      human: `wrote ${result.files.map((f) => f.path).join(' and ')}; ${result.name} is enabled and started (see: ${systemctl} list-timers)`,
    };
  if (remove)
    return {
      result,
      human: result.removed
        ? `disabled ${result.name} and removed ${result.files.map((f) => f.path).join(' and ')}`
        : `no timer to remove (${result.files.map((f) => f.path).join(', ')} do not exist)`,
    };
  return { result, human: result.files.map((f) => `# ${f.path}\n${f.content}`).join('\n') };
}
