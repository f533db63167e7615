/**
 * The [Service] lines of a unit or drop-in we write: the command through `<root>/current`, the boot-check, and our
 * policies; over somebody else's unit, only what must change (see existing-unit.ts), with notes of what was kept.
 */
import path from 'node:path';
import type { Config } from '../store/config.js';
import { ReleaseSwitcherError } from '../model/errors.js';
import { layoutOf } from '../store/layout.js';
import { defaultEnv } from '../model/runtime.js';
import { linkCommandOf } from '../tool/index.js';
import { ENV_COMMAND, PRIVILEGED_ENV } from '../platform/privileged-env.js';
import { currentAccount, ownerName } from '../platform/accounts.js';
import { servicePreset } from '../presets/index.js';
import { holdConditionCommand } from '../store/restart-hold.js';
import { type ExistingUnit, type NodeCommand, nodeCommandOf, packageFileOf } from './existing-unit.js';
import type { CliCommand } from './cli-command.js';
import type { UnitScope } from '../service/systemctl.js';
import { timespanSeconds } from '../service/timespan.js';

export interface ServiceOptions {
  /**
   * Entry script inside a release, e.g. `server.js` or `dist/index.js`.
   * @default (an option of `unit`) the preset's entry, else the current release's `main`
   */
  entry: string;
  /** Arguments after the entry. @default [] (over an existing unit: the unit's own) */
  args?: string[];
  /** Options for Node itself, before the entry (e.g. `--max-old-space-size=8192`). @default [] (over an existing unit: the unit's own) */
  nodeOptions?: string[];
  /** Seconds the service may drain after SIGTERM; TimeoutStopSec is 10 s more, so a drain is never cut by SIGKILL. @default 20 */
  drainSeconds?: number;
  /**
   * The ExecStartPre command; `null` leaves it out. @default the pinned copy through its link (tool/):
   * [<tool home>/current/node, <tool home>/current/package/dist/cli/main.js, '--root', root, 'boot-check']
   */
  bootCheck?: string[] | null;
  /** Decides WantedBy= of a whole unit. @default from config.supervisor */
  scope?: UnitScope;
  /** The entry was named by the user: over an existing unit, run it instead of what the unit runs. @default false */
  entryGiven?: boolean;
}

/** What a unit's [Service] lines are made from. */
export interface UnitRequest {
  config: Config;
  root: string;
  options: ServiceOptions;
  /** The unit ours goes over (as a drop-in); none: a whole unit of our own. */
  existing?: ExistingUnit | undefined;
  /** The package command the existing unit runs (cli-command.ts): its file of `current`, its Node and arguments are kept. */
  cli?: CliCommand | null | undefined;
}

const STOP_MARGIN_SECONDS = 10;

/** One word of an Exec line (systemd.service "COMMAND LINES"): `%` specifiers, `$` expansion, quotes, C escapes. */
export function execWord(word: string): string {
  const literal = word.replaceAll('%', '%%').replaceAll('$', () => '$$');
  if (/^[\w@%+=:,./$-]+$/.test(literal)) return literal;
  const escaped = [...literal].map((c) =>
    c === '\\' || c === '"'
      ? `\\${c}`
      : c < ' ' || c === '\x7f'
        ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`
        : c,
  );
  return `"${escaped.join('')}"`;
}

/** A path or text setting: no quoting or escapes there, only specifiers; a line break cannot be written at all. */
export function plainValue(value: string, what: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it refuses
  if (/[\x00-\x1f\x7f]/.test(value)) {
    throw new ReleaseSwitcherError(
      'UNSUPPORTED',
      `${what} contains a control character, which a unit file cannot hold: ${JSON.stringify(value)}`,
      { hint: 'Use a root path without line breaks or control characters.' },
    );
  }
  return value.replaceAll('%', '%%');
}

export function checkEntry(entry: string): string {
  const normal = path.posix.normalize(entry);
  if (entry === '' || path.isAbsolute(entry) || normal === '..' || normal.startsWith('../')) {
    throw new ReleaseSwitcherError('USAGE', `The entry "${entry}" must be a path inside the release.`, {
      hint: 'For example --entry server.js or --entry dist/index.js',
    });
  }
  return normal.replace(/^\.\//, '');
}

/** What a unit we write sets, and (over somebody else's unit) what it kept of theirs and what it changed. */
interface Lines {
  pre: string[];
  start: string;
  rest: string[];
  kept: string[];
  changed: string[];
}

function bootCheckLine(config: Config, root: string, options: ServiceOptions): string[] {
  // The tool's pinned copy (tool/), not this installation's path, which npm or nvm may move; the service's own Node
  // (config.node) runs the service only.
  const tool = linkCommandOf(defaultEnv());
  const bootCheck =
    options.bootCheck === undefined ? [tool.node, tool.cli, '--root', root, 'boot-check'] : options.bootCheck;
  // `-`: if release-switcher itself is gone or broken, the service must still start (boot-check exits 0 but where it
  // cannot read or write the root, which it says, and `doctor` checks beforehand).
  // `+`: the root is not the service account's (root acting for User=…): the boot-check acts for the root's owner,
  // outside the unit's sandbox, as every other command on that root does; its checkpoints keep each file's owner.
  return bootCheck && bootCheck.length > 0 ? [`ExecStartPre=-${commandLine(config, root, bootCheck)}`] : [];
}

/**
 * A command of ours in the unit: as it is, or, run as root for the service's account (`+`), through `env -i` with a
 * fixed PATH (platform/privileged-env.ts): a `+` command gets the unit's environment, whose PATH (the role's:
 * `~/.local/bin` first), NODE_OPTIONS or HOME the account may have chosen; nothing of it reaches root's command. The
 * `unit` verb checks beforehand that no account but root may change the files it runs (privileged.ts).
 */
function commandLine(config: Config, root: string, words: readonly string[]): string {
  if (!actsForServiceAccount(config, root)) return words.map(execWord).join(' ');
  if (!path.isAbsolute(words[0] ?? ''))
    throw new ReleaseSwitcherError(
      'UNSUPPORTED',
      `A command run as root in the unit must name its program by an absolute path, not "${words[0]}".`,
      { hint: 'Name it by its absolute path (e.g. /usr/bin/node).' },
    );
  return `+${privilegedCommand(words).map(execWord).join(' ')}`;
}

/** `env -i PATH=… NODE_DISABLE_COMPILE_CACHE=1 WORDS…`: a command as root runs with our environment, nothing else. */
export function privilegedCommand(words: readonly string[]): string[] {
  const env = Object.entries(PRIVILEGED_ENV).map(([name, value]) => `${name}=${value}`);
  return [ENV_COMMAND, '-i', ...env, ...words];
}

/**
 * The restart hold's condition (store/restart-hold.ts): while an update is between the old process's exit and the end
 * of its finalize, a start by the manager itself (Restart=) is skipped. No `-`: it would make a skip a success. `+`
 * where the boot-check has it: the hold is in a root the service's account may not read.
 */
function holdConditionLine(config: Config, root: string): string {
  const hold = layoutOf(root).restartHold;
  return `ExecCondition=${commandLine(config, root, holdConditionCommand(hold))}`;
}

/**
 * The service runs as another account than the root's owner (root acting for User=…). The owner, not whoever writes
 * the unit: root installing the drop-in for a root the service account keeps itself (/etc/systemd/system is root's)
 * writes the account's unit, whose commands must run as the account, inside the sandbox, as when the account prints
 * it. A root not made yet is the writer's.
 */
export function actsForServiceAccount(config: Config, root: string): boolean {
  if (config.serviceUser === null) return false;
  return config.serviceUser !== (ownerName(root) ?? currentAccount().name);
}

/**
 * Where the boot-check runs as the service's own account (the root is its own), a sandboxed unit (ProtectSystem=strict,
 * ProtectHome=read-only: OpenClaw's Ansible role) must let it write the root, or it can neither count starts nor take
 * checkpoints. `-`: a root that is gone does not stop the unit from starting.
 */
function rootWritableLines(config: Config, root: string): string[] {
  if (config.supervisor !== 'systemd-system' || actsForServiceAccount(config, root)) return [];
  return [`ReadWritePaths=-${plainValue(root, 'The root path')}`];
}

/**
 * The least stop budget a unit we write may have: the drain + our margin, and never under the budget the service's
 * preset declares for itself (openclaw: 325 s of shutdown + 5 s = 330 s, what its own unit and audit require).
 */
export function stopBudget(
  config: Config,
  options: Pick<ServiceOptions, 'drainSeconds'>,
): { seconds: number; why: string } {
  const drain = options.drainSeconds ?? 20;
  const ours = {
    seconds: Math.ceil(drain) + STOP_MARGIN_SECONDS,
    why: `the drain + ${STOP_MARGIN_SECONDS} s (${drain} s + ${STOP_MARGIN_SECONDS} s), so a drain is never cut by SIGKILL`,
  };
  const stop = servicePreset(config)?.stop;
  if (!stop) return ours;
  const theirs = {
    seconds: Math.ceil(stop.drainSeconds + stop.marginSeconds),
    why: `${stop.drainSeconds} s + ${stop.marginSeconds} s: ${stop.why}`,
  };
  return theirs.seconds >= ours.seconds ? theirs : ours;
}

/**
 * `Environment=` lines for the variables the preset's service must run with (openclaw: external supervisor mode). They
 * win over the unit's own values (a drop-in's later assignment does): the contract is what makes our updates safe.
 */
function presetEnvironmentLines(
  config: Config,
  existing: ExistingUnit | undefined,
  lines: Pick<Lines, 'changed'>,
): string[] {
  const environment = servicePreset(config)?.environment ?? {};
  const out: string[] = [];
  for (const [name, value] of Object.entries(environment)) {
    out.push(`Environment=${execWord(`${name}=${value}`)}`);
    if (existing && existing.environment[name] !== value) lines.changed.push(`Environment=${name}=${value}`);
  }
  return out;
}

/** Our policies, each only where the existing unit (if any) does not set its own; a stop budget is only ever raised. */
function policyLines(request: UnitRequest, lines: Pick<Lines, 'kept' | 'changed'>): string[] {
  const { config, options, existing } = request;
  const own = existing?.service ?? {};
  const budget = stopBudget(config, options);
  const need = budget.seconds;
  const theirStop = own.TimeoutStopSec ?? own.TimeoutSec;
  // 0 and infinity: systemd never sends SIGKILL; nothing to raise.
  const theirs = timespanSeconds(theirStop) === 0 ? Infinity : timespanSeconds(theirStop);
  // 78 (EX_CONFIG): the service says its config or state is from a newer version; restarting cannot help.
  const ours: Array<[string, string, string | undefined]> = [
    ['Restart', 'always', own.Restart],
    ['RestartSec', '1', own.RestartSec],
    ['TimeoutStopSec', String(need), theirs !== undefined && theirs >= need ? theirStop : undefined],
    ['RestartPreventExitStatus', '78', own.RestartPreventExitStatus],
  ];
  const out: string[] = [];
  for (const [key, value, kept] of ours) {
    if (kept !== undefined)
      lines.kept.push(`${key}=${kept}${key === 'TimeoutStopSec' ? ` (at least ${need} s: ${budget.why})` : ''}`);
    else out.push(`${key}=${value}`);
  }
  if (existing && !out.every((l) => !l.startsWith('TimeoutStopSec='))) {
    lines.changed.push(
      `TimeoutStopSec ${theirs === undefined ? '(systemd default)' : `${theirs} s`} -> ${need} s (${budget.why})`,
    );
  }
  return out;
}

/**
 * The command: `<node> [node options] <root>/current/<entry> [args]`. Over an existing unit that runs
 * `node [options] <package>/<entry> [args]`, only the package's path changes (and the Node, when one is configured).
 */
function commandOf(
  request: UnitRequest,
  lines: Pick<Lines, 'kept' | 'changed'>,
): { words: string[]; pkgDir: string | null } {
  const { config, options, existing } = request;
  const { current } = layoutOf(request.root);
  const theirs = options.entryGiven ? null : nodeScriptOf(existing);
  const found = theirs ? packageFileOf(theirs.script, { pkg: config.package, root: request.root }) : null;
  // `node <root>/current`: Node runs the package's main, which the caller put in options.entry.
  const inPackage = found === null ? null : found.entry || options.entry || null;
  const cli = options.entryGiven ? null : request.cli;
  if (cli && !theirs) return cliCommandWords(request, cli, lines);
  if (!theirs || inPackage === null) {
    if (existing?.execStart)
      lines.changed.push(`ExecStart (${existing.execStart.join(' ')}) -> runs ${options.entry} of ${current}`);
    return {
      words: [
        config.node ?? process.execPath,
        ...(options.nodeOptions ?? []),
        path.join(current, checkEntry(options.entry)),
        ...(options.args ?? []),
      ],
      pkgDir: null,
    };
  }
  const node = config.node ?? theirs.node;
  const nodeOptions = options.nodeOptions ?? theirs.nodeOptions;
  const args = options.args ?? theirs.args;
  const script = path.join(current, checkEntry(inPackage));
  if (theirs.script === script) lines.kept.push(`ExecStart: ${script} (it already runs ${current})`);
  else lines.changed.push(`ExecStart: ${theirs.script} -> ${script}`);
  if (node !== theirs.node) lines.changed.push(`Node: ${theirs.node} -> ${node} (the configured --node)`);
  noteWords(lines, 'Node options', nodeOptions, theirs.nodeOptions);
  noteWords(lines, 'arguments', args, theirs.args);
  return { words: [node, ...nodeOptions, script, ...args], pkgDir: found!.pkgDir };
}

/**
 * The unit's `node [options] script [args]`, its script made absolute against the unit's WorkingDirectory= (`node
 * openclaw.mjs gateway run` run in the package's folder); null when it runs no Node script.
 */
export function nodeScriptOf(existing: ExistingUnit | undefined): NodeCommand | null {
  const command = nodeCommandOf(existing?.execStart ?? null);
  const start = existing?.service.WorkingDirectory?.replace(/^-/, '');
  return command && !path.isAbsolute(command.script) && start && path.isAbsolute(start)
    ? { ...command, script: path.resolve(start, command.script) }
    : command;
}

/** `label: words` under kept when they are what the unit had, else under changed. */
function noteWords(lines: Pick<Lines, 'kept' | 'changed'>, label: string, now: string[], had: string[]): void {
  lines[now.join(' ') === had.join(' ') ? 'kept' : 'changed'].push(`${label}: ${now.join(' ') || '(none)'}`);
}

/** Over a unit that runs the package's command (cli-command.ts): the file it runs, of `current`, with its Node and arguments. */
function cliCommandWords(
  request: UnitRequest,
  cli: CliCommand,
  lines: Pick<Lines, 'kept' | 'changed'>,
): { words: string[]; pkgDir: string } {
  const { config, options } = request;
  const { current } = layoutOf(request.root);
  const node = config.node ?? cli.node ?? process.execPath;
  const args = options.args ?? cli.args;
  lines.changed.push(
    `ExecStart: ${cli.command} (runs ${path.join(cli.pkgDir, cli.entry)}) -> ${path.join(current, cli.entry)}`,
  );
  const whose =
    node === cli.node
      ? `the one ${cli.command} runs`
      : config.node
        ? 'the configured --node'
        : `${cli.command} names no Node that could be found; release-switcher's own`;
  lines[node === cli.node ? 'kept' : 'changed'].push(`Node: ${node} (${whose})`);
  noteWords(lines, 'arguments', args, cli.args);
  return {
    words: [node, ...(options.nodeOptions ?? []), path.join(current, checkEntry(cli.entry)), ...args],
    pkgDir: cli.pkgDir,
  };
}

/**
 * WorkingDirectory over somebody else's unit: as the unit has it (none: systemd's default, the user's home for a user
 * service, `/` for a system one; openclaw reads `./.env` there), unless it points inside the adopted package, which
 * would pin the old copy: then the same place under `<root>/current`. Null: write no WorkingDirectory= line.
 */
function workingDirectoryOf(
  current: string,
  existing: ExistingUnit,
  pkgDir: string | null,
  lines: Pick<Lines, 'kept' | 'changed'>,
): string | null {
  const raw = existing.service.WorkingDirectory ?? '';
  if (raw === '') {
    lines.kept.push(
      "WorkingDirectory: none (systemd's default: the user's home for a user service, / for a system one)",
    );
    return null;
  }
  const optional = raw.startsWith('-') ? '-' : '';
  const dir = path.posix.normalize(raw.slice(optional.length).replaceAll('%%', '%'));
  const inside = (base: string) => dir === base || dir.startsWith(`${base}/`);
  if (pkgDir !== null && inside(pkgDir) && !inside(current)) {
    const moved = path.posix.join(current, path.posix.relative(pkgDir, dir));
    lines.changed.push(
      `WorkingDirectory: ${raw} -> ${optional}${moved} (it was inside the adopted package, which no longer changes)`,
    );
    return `${optional}${plainValue(moved, 'The root path')}`;
  }
  lines.kept.push(`WorkingDirectory=${raw}`);
  return null;
}

/** `…/node_modules/<pkg>/dist/index.js` → `dist/index.js`; null when the script is not inside the package. */

export function serviceLines(request: UnitRequest): Lines {
  const { config, options, existing } = request;
  const layout = layoutOf(request.root);
  const { current } = layout;
  const lines = { kept: [] as string[], changed: [] as string[] };
  const { words: start, pkgDir } = commandOf(request, lines);
  // A unit of ours runs in `current`; over somebody else's unit, the working directory is theirs (workingDirectoryOf).
  const workingDirectory = existing
    ? workingDirectoryOf(current, existing, pkgDir, lines)
    : plainValue(current, 'The root path');
  const environment = presetEnvironmentLines(config, existing, lines);
  const rest = [
    ...policyLines(request, lines),
    ...environment,
    ...rootWritableLines(config, layout.root),
    ...(workingDirectory === null ? [] : [`WorkingDirectory=${workingDirectory}`]),
  ];
  if (existing) {
    if (Object.keys(existing.environment).length > 0)
      lines.kept.push(`Environment: ${Object.keys(existing.environment).join(', ')}`);
    lines.changed.push(
      'ExecStartPre: the boot-check',
      "ExecCondition: the restart hold (no start of the manager's own between the old process's handed-over exit and the end of finalize)",
      'StartLimitIntervalSec=0 (quick rollbacks must never hit start-limit-hit)',
    );
  }
  return {
    pre: [holdConditionLine(config, layout.root), ...bootCheckLine(config, layout.root, options)],
    start: `ExecStart=${start.map(execWord).join(' ')}`,
    rest,
    ...lines,
  };
}
