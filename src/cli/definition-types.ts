/** The shape of a command's definition (definitions.ts), apart so that a table of options can name it alone. */
import type { CommandContext, CommandOutcome } from './context.js';

export interface OptionDef {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  value?: string;
  /** The value may be left out (`--wait` alone): only a following word that is a number is taken as its value. */
  optionalValue?: boolean;
  description: string;
  /** The values it takes, when they are a fixed list (completions offer them). */
  choices?: readonly string[];
}

/** How an option's value is written after its flag in help, man page and reference: ` SECONDS`, ` [SECONDS]` or nothing. */
export function valueAfterFlag(option: OptionDef, style: (value: string) => string = (value) => value): string {
  if (!option.value) return '';
  return option.optionalValue ? ` [${style(option.value)}]` : ` ${style(option.value)}`;
}

export interface CommandModule {
  run: (ctx: CommandContext) => Promise<CommandOutcome>;
}

export interface CommandDef {
  name: string;
  summary: string;
  args: string;
  options: Record<string, OptionDef>;
  examples: string[];
  /** What the positional argument is, for completions: a command's name, or one of a fixed list. */
  operand?: 'command' | readonly string[];
  /** Left out of the main help: plumbing for release-switcher itself. */
  hidden?: boolean;
  /** Imports the command's code. Absent for the commands about the CLI itself, which run.ts loads (see BUILT_IN). */
  load?: () => Promise<CommandModule>;
}
