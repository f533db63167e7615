/** The shape of a command's definition (definitions.ts), apart so that a table of options can name it alone. */
import type { CommandContext, CommandOutcome } from './context.js';

export interface OptionDef {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  value?: string;
  description: string;
}

export interface CommandDef {
  name: string;
  summary: string;
  args: string;
  options: Record<string, OptionDef>;
  examples: string[];
  /** Left out of the main help: plumbing for release-switcher itself. */
  hidden?: boolean;
  load: () => Promise<{ run: (ctx: CommandContext) => Promise<CommandOutcome> }>;
}
