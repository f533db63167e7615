import os from 'node:os';
import path from 'node:path';
import { openclawPlugin } from '../../verbs/openclaw-plugin.js';
import type { CommandContext, CommandOutcome } from '../context.js';

/**
 * `openclaw-plugin [DIR]`: the plugin folder, written from this installation; its path alone on stdout, so that
 * `openclaw plugins install "$(release-switcher openclaw-plugin)"` is the one command. The default is a cache
 * folder (rewritten each time): OpenClaw copies the folder when it installs it.
 */
export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const { env, cwd = process.cwd() } = ctx.runtime;
  const cache = env?.XDG_CACHE_HOME || path.join(env?.HOME || os.homedir(), '.cache');
  const out = path.resolve(cwd, ctx.positionals[0] ?? path.join(cache, 'release-switcher', 'openclaw-plugin'));
  const result = await openclawPlugin({ out });
  return {
    result,
    human: result.out,
    notes: `release-switcher ${result.version} and the ${result.packages} packages it needs at runtime; install it with: openclaw plugins install ${result.out} --force --accept-capabilities`,
  };
}
