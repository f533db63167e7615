/**
 * The CLI as a function: `runCli(argv, io)` parses, runs one command and returns its exit code, so a
 * host CLI can mount it (e.g. as `openclaw releases …`). bin/main.ts is a two-line shell over it.
 */
import { parseArgs } from 'node:util';
import { closest } from '../model/closest.js';
import { ExitCode, ReleaseSwitcherError, asDiskFull, isReleaseSwitcherError } from '../model/errors.js';
import { asPermissionDenied } from '../platform/permission.js';
import { armCrashPoint } from '../platform/crashpoint.js';
import { ownVersion } from '../platform/self.js';
import { type CommandDef, type CommandModule, GLOBAL_OPTIONS, type OptionDef, findCommand } from './definitions.js';
import { commandHelp, mainHelp, unknownCommand } from './help.js';
import { readEnvironment } from './environment.js';
import { endProgress } from './progress.js';

export interface CliIo {
  stdout: { write(text: string): unknown };
  /** Progress bars are drawn when it is a terminal (isTTY), plain lines otherwise. */
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default process.cwd() */
  cwd?: string;
  /** The Node that runs release-switcher's CLI for the runner, the timer and the boot-check unit. @default process.execPath */
  execPath?: string;
  /** Aborting it stops the command's subprocesses (and staging); the bin aborts it on SIGINT/SIGTERM/SIGHUP. @default none */
  signal?: AbortSignal;
  /** The name shown in help and hints. @default "release-switcher" */
  programName?: string;
  /** The release-switcher CLI a runner outside the service runs (see Runtime's `cliPath`). @default this installation's */
  cliPath?: string;
}

/**
 * The whole CLI as a function: parses `argv` (without the program name), runs one command, writes to `io` and
 * returns the exit code, so a host CLI can mount it under its own name (`openclaw releases …`).
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = io.programName ?? 'release-switcher';
  const json = argv.includes('--json');
  try {
    const { command, rest } = splitCommand(argv);
    if (!command) {
      if (asksVersion(argv)) return await printVersion(io, json);
      // A bare command asks what the tool does: the help on stdout, exit 0. npm and git exit 1 there, but nothing
      // failed, and 2 stays what it means everywhere else here (a command line that names something wrong), so a
      // script or `release-switcher | less` is not told of a failure that did not happen.
      if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
        io.stdout.write(mainHelp(program));
        return ExitCode.ok;
      }
      throw usage(`No command given.`, `Run ${program} --help to see the commands.`);
    }
    const def = findCommand(command);
    if (!def) throw unknownCommand(command, program);
    const { values, positionals } = parseCommandArgs(def, rest, program);
    if (values.help) {
      io.stdout.write(commandHelp(def, program));
      return ExitCode.ok;
    }
    if (values.version) return await printVersion(io, json);
    const host = {
      env: io.env ?? process.env,
      cwd: io.cwd ?? process.cwd(),
      execPath: io.execPath ?? process.execPath,
      stderr: io.stderr,
    };
    const environment = readEnvironment(host, values);
    if (io.signal) environment.runtime.signal = io.signal;
    if (io.cliPath) environment.runtime.cliPath = io.cliPath;
    let progressShown = false;
    const report = environment.runtime.onProgress;
    if (report) {
      environment.runtime.onProgress = (event) => {
        progressShown = true;
        report(event);
      };
    }
    armCrashPoint(environment.crashPoint);
    if (!values.all && (values.canary !== undefined || values['max-failures'] !== undefined))
      throw usage('--canary and --max-failures go with --all.', `See ${program} ${def.name} --help.`);
    const module = await (def.load ?? BUILT_IN[def.name]!)();
    const ctx = { root: environment.root, values, positionals, runtime: environment.runtime, json, program };
    const outcome = await (values.all
      ? (await import('./fleet.js')).runAll(def.name, module, ctx) // lazy: start-up: only --all reads the lists of roots
      : module.run(ctx)
    ).finally(() => {
      if (environment.runtime.onProgress && progressShown) endProgress(io.stderr);
    });
    const error = outcome.error && withSignal(outcome.error, io.signal);
    if (json)
      io.stdout.write(
        `${JSON.stringify(error ? { ok: false, error, result: outcome.result } : { ok: true, result: outcome.result })}\n`,
      );
    else if (outcome.human) io.stdout.write(outcome.human.endsWith('\n') ? outcome.human : `${outcome.human}\n`);
    if (!json && outcome.notes) io.stderr.write(outcome.notes.endsWith('\n') ? outcome.notes : `${outcome.notes}\n`);
    if (!json && error)
      io.stderr.write(
        `${program}: error ${error.code}: ${error.message}\n${error.hint ? `hint: ${error.hint}\n` : ''}`,
      );
    return outcome.exitCode ?? ExitCode.ok;
  } catch (error) {
    return reportError(isReleaseSwitcherError(error) ? withSignal(error, io.signal) : error, { io, json, program });
  }
}

/** How long the bin lets a command unwind after a signal (its envelope printed) before it dies of the signal. */
export const SIGNAL_GRACE_MS = 5_000;

/** The reason the bin aborts a run with on `signal`: whatever rejects with the abort's reason rejects CANCELLED. */
export function stoppedBy(signal: NodeJS.Signals): ReleaseSwitcherError {
  return new ReleaseSwitcherError('CANCELLED', `Stopped by ${signal}.`, { details: { signal } });
}

/** A CANCELLED that a signal caused says which signal (message and `details.signal`), whichever layer raised it. */
function withSignal<E extends { code: string; message: string; details?: Record<string, unknown> }>(
  error: E,
  abort: AbortSignal | undefined,
): E {
  const reason: unknown = abort?.aborted ? abort.reason : undefined;
  const signal = isReleaseSwitcherError(reason) ? reason.details?.signal : undefined;
  if (error.code !== 'CANCELLED' || typeof signal !== 'string' || error.details?.signal) return error;
  const details = { ...error.details, signal };
  const message = error.message.includes(signal) ? error.message : `${error.message} (stopped by ${signal})`;
  if (!isReleaseSwitcherError(error)) return { ...error, message, details };
  return new ReleaseSwitcherError('CANCELLED', message, {
    hint: error.hint,
    cause: error.cause,
    details,
    result: error.result,
  }) as unknown as E;
}

/** The commands that read the definitions themselves: loaded from here, since definitions.ts may not import them. */
const BUILT_IN: Record<string, () => Promise<CommandModule>> = {
  help: () => import('./commands/help.js'), // lazy: start-up: only the command run is loaded
  completion: () => import('./commands/completion.js'), // lazy: start-up: only the command run is loaded
};

function usage(message: string, hint: string): ReleaseSwitcherError {
  return new ReleaseSwitcherError('USAGE', message, { hint });
}

/** `--version` or `-V` before the end of options. */
function asksVersion(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((arg) => arg === '--version' || arg === '-V');
}

async function printVersion(io: CliIo, json: boolean): Promise<number> {
  const version = await ownVersion();
  io.stdout.write(json ? `${JSON.stringify({ ok: true, result: { version } })}\n` : `${version}\n`);
  return ExitCode.ok;
}

/** The command is the first word that is not an option or the value of a global option. */
function splitCommand(argv: readonly string[]): { command: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg.startsWith('-')) {
      const name = arg.replace(/^--?/, '');
      if (GLOBAL_OPTIONS[name]?.type === 'string' && !arg.includes('=')) i++;
      continue;
    }
    return { command: arg, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { command: undefined, rest: [...argv] };
}

function parseCommandArgs(def: CommandDef, args: string[], program: string) {
  const all: Record<string, OptionDef> = { ...GLOBAL_OPTIONS, ...def.options };
  const options = Object.fromEntries(
    Object.entries(all).map(([name, o]) => [
      name,
      { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) },
    ]),
  );
  try {
    const parsed = parseArgs({ args: withOptionalValues(args, all), options, allowPositionals: true, strict: true });
    const max = def.args.split(' ').filter((a) => /^\[?[A-Z]+\]?$/.test(a)).length;
    if (!parsed.values.help && parsed.positionals.length > max) {
      throw usage(
        `Unexpected argument "${parsed.positionals[max]}" for ${def.name}.`,
        `Usage: ${program} ${def.name} ${def.args}`,
      );
    }
    return parsed as { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
  } catch (error) {
    if (isReleaseSwitcherError(error)) throw error;
    const message = (error as Error).message;
    const flag = /'(-[^']+)'/.exec(message)?.[1];
    const guess = flag ? closest(flag.replace(/^-+/, '').split('=')[0]!, Object.keys(all)) : undefined;
    throw usage(
      `${message.split('. ')[0]}.`,
      guess ? `Did you mean --${guess}? See ${program} ${def.name} --help.` : `See ${program} ${def.name} --help.`,
    );
  }
}

/**
 * An option whose value may be left out (`--wait` alone) is given one, empty, unless the next word is a number: so
 * `update --wait` and `switch 1.2.0 --wait` wait without limit, `--wait 30` up to 30 s, and `update --wait 1.2.0` takes
 * 1.2.0 as the version. util.parseArgs has no optional values of its own.
 */
function withOptionalValues(args: string[], all: Record<string, OptionDef>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return [...out, ...args.slice(i)];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    const next = args[i + 1];
    const optional = name !== undefined && all[name]?.optionalValue === true;
    out.push(optional && (next === undefined || !/^\d+(\.\d+)?$/.test(next)) ? `${arg}=` : arg);
  }
  return out;
}

function reportError(error: unknown, options: { io: CliIo; json: boolean; program: string }): number {
  const { io, json, program } = options;
  // ENOSPC/EDQUOT from anywhere (a write no layer wrapped) is still a full disk, never a bug report.
  const full = asPermissionDenied(asDiskFull(error, 'writing'), 'carrying out the command');
  const known = isReleaseSwitcherError(full)
    ? full
    : new ReleaseSwitcherError('INTERNAL', error instanceof Error ? error.message : String(error), {
        hint: `This is a bug in ${program}; please report it with the stack trace above.`,
        cause: error,
      });
  const hint = known.hint?.replace(/\brelease-switcher\b/g, program);
  if (json) {
    const envelope = {
      ok: false,
      error: {
        code: known.code,
        message: known.message,
        ...(hint ? { hint } : {}),
        ...(known.details ? { details: known.details } : {}),
      },
      ...(known.result !== undefined ? { result: known.result } : {}),
    };
    io.stdout.write(`${JSON.stringify(envelope)}\n`);
  } else {
    io.stderr.write(`${program}: error ${known.code}: ${known.message}\n${hint ? `hint: ${hint}\n` : ''}`);
  }
  if (known.isBug && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
  return known.exitCode;
}
