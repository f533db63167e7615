import { ReleaseSwitcherError } from '../../model/errors.js';
import { timer } from '../../unit-files/timer.js';
import type { CommandContext, CommandOutcome } from '../context.js';

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const [install, remove] = [ctx.values.install === true, ctx.values.remove === true];
  const [pause, resume] = [ctx.values.pause === true, ctx.values.resume === true];
  const modes = ['install', 'remove', 'pause', 'resume'].filter((mode) => ctx.values[mode] === true);
  if (modes.length > 1)
    throw new ReleaseSwitcherError('USAGE', `Pass one of --${modes.join(', --')}, not ${modes.length}.`, {
      hint: 'For example: release-switcher timer --install, or release-switcher timer --pause',
    });
  const reason = str(ctx.values.reason);
  if (reason !== undefined && !pause)
    throw new ReleaseSwitcherError('USAGE', '--reason goes with --pause.', {
      hint: 'For example: release-switcher timer --pause --reason "change freeze"',
    });
  if (pause || resume) return pauseOrResume(ctx, pause, reason);
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

/** `--pause` / `--resume`: the pause of the root's ticks, whatever runs them (the timer, launchd, cron). */
async function pauseOrResume(ctx: CommandContext, pause: boolean, reason: string | undefined): Promise<CommandOutcome> {
  const options = { root: ctx.root, ...ctx.runtime };
  const { pauseAutoUpdate, resumeAutoUpdate } = await import('../../autoupdate/index.js'); // lazy: only --pause and --resume (not printing units)
  if (!pause) {
    const result = await resumeAutoUpdate(options);
    return { result, human: 'auto-update resumed: the next tick decides as release-switcher check does' };
  }
  const result = await pauseAutoUpdate({ ...options, ...(reason === undefined ? {} : { reason }) });
  return {
    result,
    human: `auto-update paused since ${result.since}: every tick does nothing until release-switcher timer --resume (a tick already switching finishes)`,
  };
}
