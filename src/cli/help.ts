/** Help text generated from the command definitions, and "did you mean" for a command that is not one. */
import { closest } from '../model/closest.js';
import { ReleaseSwitcherError } from '../model/errors.js';
import { COMMANDS, type CommandDef, GLOBAL_OPTIONS, type OptionDef, valueAfterFlag } from './definitions.js';

function optionLines(options: Record<string, OptionDef>): string[] {
  return Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${valueAfterFlag(o)}`;
    return `  ${flag.padEnd(28)} ${o.description}`;
  });
}

const visible = () => COMMANDS.filter((c) => !c.hidden);

export function mainHelp(program: string): string {
  return [
    `Usage: ${program} [--root DIR] [--json] COMMAND [options]`,
    '',
    'Side-by-side, sealed releases of an npm-installed service, switched by an atomic symlink.',
    '',
    'Commands:',
    ...visible().map((c) => `  ${c.name.padEnd(Math.max(...visible().map((d) => d.name.length)))}  ${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    `Run ${program} help COMMAND (or ${program} COMMAND --help) for a command's options and examples.`,
    '',
  ].join('\n');
}

export function commandHelp(def: CommandDef, program: string): string {
  return [
    `Usage: ${program} ${def.name}${def.args ? ` ${def.args}` : ''}`,
    '',
    `${def.summary[0]!.toUpperCase()}${def.summary.slice(1)}.`,
    '',
    ...(Object.keys(def.options).length ? ['Options:', ...optionLines(def.options), ''] : []),
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Examples:',
    ...def.examples.map((e) => `  ${e.replace(/^release-switcher/, program)}`),
    '',
  ].join('\n');
}

/** USAGE for a command name that is not one, with the nearest one when it looks like a typo. */
export function unknownCommand(name: string, program: string): ReleaseSwitcherError {
  const guess = closest(
    name,
    COMMANDS.map((c) => c.name),
  );
  return new ReleaseSwitcherError('USAGE', `Unknown command "${name}".`, {
    hint: guess ? `Did you mean "${program} ${guess}"?` : `Run ${program} --help to see the commands.`,
  });
}
