import { ReleaseSwitcherError } from '../../model/errors.js';
import { completionScript } from '../completion.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { SHELLS, type Shell } from '../definitions.js';

/** `completion bash|zsh|fish`: the script on stdout, to be written where the shell reads completions. */
export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const shell = ctx.positionals[0];
  if (!(SHELLS as readonly unknown[]).includes(shell)) {
    throw new ReleaseSwitcherError(
      'USAGE',
      shell === undefined
        ? 'completion needs a SHELL: bash, zsh or fish.'
        : `completion takes bash, zsh or fish, not "${shell}".`,
      {
        hint: 'For example: release-switcher completion bash > ~/.local/share/bash-completion/completions/release-switcher',
      },
    );
  }
  const script = completionScript(shell as Shell);
  return { result: { shell, script }, human: script };
}
