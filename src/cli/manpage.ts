/**
 * The man page, release-switcher(1), generated from the command definitions at build time (scripts/build-man.mjs
 * writes dist/man/release-switcher.1; package.json `man` makes `npm install -g` link it where man finds it).
 */
import { ErrorCodes } from '../model/errors.js';
import { COMMANDS, type CommandDef, GLOBAL_OPTIONS, type OptionDef, valueAfterFlag } from './definitions.js';

/**
 * Text for roff: backslashes and hyphens escaped, characters past printable ASCII as `\[uXXXX]` (troff reads bytes, not
 * UTF-8, unless preconv runs first), and no line that roff would read as a request.
 */
function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/[^ -~\n\t]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`)
    .replace(/^([.'])/gm, '\\&$1');
}

function optionItems(options: Record<string, OptionDef>): string[] {
  return Object.entries(options).flatMap(([name, o]) => [
    '.TP',
    `${o.short ? `\\fB\\-${o.short}\\fR, ` : ''}\\fB\\-\\-${roff(name)}\\fR${valueAfterFlag(o, (value) => `\\fI${roff(value)}\\fR`)}${o.multiple ? ' (repeatable)' : ''}`,
    roff(o.description),
  ]);
}

function commandSection(def: CommandDef): string[] {
  return [
    `.SS ${roff(`${def.name}${def.args ? ` ${def.args}` : ''}`)}`,
    `${roff(def.summary[0]!.toUpperCase() + def.summary.slice(1))}.`,
    ...(Object.keys(def.options).length > 0 ? ['.RS', ...optionItems(def.options), '.RE'] : []),
    '.PP',
    'Examples:',
    '.RS',
    '.nf',
    ...def.examples.map(roff),
    '.fi',
    '.RE',
  ];
}

/**
 * The exit codes of docs/exit-codes-and-json.md (the single source of the man page and docs/cli.md), each with the
 * error codes that end so.
 */
export const EXIT_MEANINGS: Record<number, string> = {
  0: 'success: verified, switched, up_to_date, installed, listed…, and scheduled (accepted and handed to a runner; --wait waits for its verdict and exits with its code)',
  1: 'failed, nothing changed',
  2: 'usage error (unknown command or flag, bad argument)',
  3: 'rolled_back: the new release failed and the previous one is running and verified',
  4: 'rollback_failed or an inconsistent root: a human must act',
  5: 'busy: another operation holds the lock',
};

/** The error codes that exit with `exit`; none listed for 1, which nearly all of them share. */
export function errorCodesExiting(exit: number): string[] {
  if (exit === 1) return [];
  return Object.entries(ErrorCodes)
    .filter(([, spec]) => spec.exit === exit)
    .map(([name]) => name);
}

function exitStatus(): string[] {
  return Object.entries(EXIT_MEANINGS).flatMap(([code, meaning]) => {
    const codes = errorCodesExiting(Number(code));
    const errors = codes.length === 0 ? '' : ` (error codes: ${codes.join(', ')})`;
    return ['.TP', `\\fB${code}\\fR`, roff(`${meaning}${errors}.`)];
  });
}

export const ENVIRONMENT: Record<string, string> = {
  RELEASE_SWITCHER_ROOT: 'the release root when --root is not given',
  XDG_DATA_HOME: 'the default root is $XDG_DATA_HOME/release-switcher (default ~/.local/share)',
  RELEASE_SWITCHER_QUIET: 'set: no progress on stderr, as --quiet',
  NO_COLOR: 'set: no colour in progress output',
  RELEASE_SWITCHER_NO_AUTO_UPDATE: '1: auto-update ticks do nothing (also OPENCLAW_NO_AUTO_UPDATE=1)',
  RELEASE_SWITCHER_ORIGIN:
    'who runs the CLI for someone else, recorded as the origin of the transactions it starts (e.g. fleet; default: command)',
};

/** What release-switcher does, in two paragraphs: the man page's DESCRIPTION and the CLI reference's opening. */
export const DESCRIPTION = [
  'Each release of the managed npm package is installed side by side under <root>/releases/<version>, sealed, and ' +
    'activated by an atomic flip of the <root>/current symlink; the service is restarted, verified, and rolled back ' +
    'on failure. Every step is journaled, so an interrupted command is finished or undone by the next one.',
  'With --json, stdout carries exactly one JSON document: {"ok": true, "result": …} or {"ok": false, "error": {"code", "message", "hint"}}.',
] as const;

/** release-switcher(1) in roff (man macros). */
export function manPage(version: string): string {
  const visible = COMMANDS.filter((c) => !c.hidden);
  return [
    `.TH RELEASE\\-SWITCHER 1 "" "release\\-switcher ${roff(version)}" "User Commands"`,
    '.SH NAME',
    'release\\-switcher \\- update a supervised Node service from the npm registry with side\\-by\\-side sealed releases',
    '.SH SYNOPSIS',
    '.B release\\-switcher',
    '[\\fB\\-\\-root\\fR \\fIDIR\\fR] [\\fB\\-\\-json\\fR] \\fICOMMAND\\fR [\\fIoptions\\fR]',
    '.br',
    '.B release\\-switcher',
    '\\fBhelp\\fR [\\fICOMMAND\\fR] | \\fB\\-\\-version\\fR',
    '.SH DESCRIPTION',
    roff(DESCRIPTION[0]),
    '.PP',
    roff(DESCRIPTION[1]),
    '.SH GLOBAL OPTIONS',
    ...optionItems(GLOBAL_OPTIONS),
    '.SH COMMANDS',
    ...visible.flatMap(commandSection),
    '.SH EXIT STATUS',
    ...exitStatus(),
    '.SH ENVIRONMENT',
    ...Object.entries(ENVIRONMENT).flatMap(([name, text]) => ['.TP', `\\fB${roff(name)}\\fR`, roff(text)]),
    '.SH FILES',
    roff(
      '<root>/config.json (settings), <root>/state.json (the journal), <root>/releases/<version>/, <root>/current, <root>/previous.',
    ),
    '.SH SEE ALSO',
    '\\fBnpm\\fR(1), \\fBsystemctl\\fR(1), \\fBsystemd.timer\\fR(5)',
    '',
  ].join('\n');
}
