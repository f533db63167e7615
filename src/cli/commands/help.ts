import type { CommandContext, CommandOutcome } from '../context.js';
import { findCommand } from '../definitions.js';
import { commandHelp, mainHelp, unknownCommand } from '../help.js';

/** `help [COMMAND]`: the very text of `COMMAND --help` (or of `--help`), from the same definitions. */
export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const program = ctx.program ?? 'release-switcher';
  const name = ctx.positionals[0];
  if (name === undefined) {
    const text = mainHelp(program);
    return { result: { command: null, help: text }, human: text };
  }
  const def = findCommand(name);
  if (!def) throw unknownCommand(name, program);
  const text = commandHelp(def, program);
  return { result: { command: def.name, help: text }, human: text };
}
