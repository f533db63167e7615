import { pin } from '../../verbs/pin.js';
import { ReleaseSwitcherError } from '../../model/errors.js';
import type { CommandContext, CommandOutcome } from '../context.js';

/** `pin VERSION` and `unpin VERSION`: one module, told apart by the command name. */
export function pinCommand(pinned: boolean) {
  return async (ctx: CommandContext): Promise<CommandOutcome> => {
    const version = ctx.positionals[0];
    if (!version)
      throw new ReleaseSwitcherError('USAGE', `${pinned ? 'pin' : 'unpin'} needs a VERSION.`, {
        hint: 'See the installed ones with: release-switcher list',
      });
    const result = await pin({ root: ctx.root, version, pinned, ...ctx.runtime });
    return { result, human: `${version} ${pinned ? 'pinned: prune keeps it' : 'unpinned'}` };
  };
}

export const run = pinCommand(true);
