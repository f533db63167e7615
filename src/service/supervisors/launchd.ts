/**
 * launchd adapter (macOS). Not measured here (no launchd on our Linux machines); the `launchctl print`
 * format below is the one seen in published captures of macOS 12–15:
 *
 *   gui/501/ai.openclaw.gateway = {
 *   	active count = 1
 *   	state = running            (also: not running, spawn scheduled, waiting, …)
 *   	runs = 3                   (every spawn, kickstarts included)
 *   	pid = 4242                 (only while running)
 *   	last exit code = 78: EX_CONFIG   (or a bare number, or "(never exited)")
 *   	last terminating signal = Terminated: 15   (in place of the exit code after a signal)
 *   	endpoints = {
 *   		… = { state = active }  (nested blocks have fields of their own: only depth 1 counts)
 *   	}
 *   }
 *
 * An unknown service: exit 113, `Could not find service "LABEL" in domain for …`.
 */
import { ReleaseSwitcherError } from '../../model/errors.js';
import { run, tail } from '../../platform/subprocess.js';
import type { CommandRunner, ServiceState, Supervisor } from './types.js';

export interface LaunchdSupervisorOptions {
  label: string;
  /** The user whose gui domain holds the agent; unused for the system domain. */
  uid: number;
  env: NodeJS.ProcessEnv;
  /** `gui/<uid>` for a LaunchAgent, `system` for a LaunchDaemon (needs root). @default "gui" */
  domain?: 'gui' | 'system';
  /** @default run() from ../subprocess.js */
  runner?: CommandRunner;
  /** @default "/bin/launchctl" (absolute: launchd jobs and timers often run with a bare PATH) */
  launchctl?: string;
  /** Aborting kills the launchctl call under way (it then rejects with CANCELLED). */
  signal?: AbortSignal | undefined;
}

/** launchctl's exit status for "no such service" (as seen in published captures). */
export const LAUNCHCTL_NOT_FOUND = 113;
const TIMEOUT_MS = 60_000;

const defaultRunner: CommandRunner = (file, args, options) => run(file, args, options);

export function launchdSupervisor(options: LaunchdSupervisorOptions): Supervisor {
  const { label, env } = options;
  const bin = options.launchctl ?? '/bin/launchctl';
  const runner = options.runner ?? defaultRunner;
  const domain = options.domain === 'system' ? 'system' : `gui/${options.uid}`;
  const target = `${domain}/${label}`;
  const plist =
    options.domain === 'system' ? `/Library/LaunchDaemons/${label}.plist` : `~/Library/LaunchAgents/${label}.plist`;

  async function launchctl(args: string[]): Promise<{ exitCode: number | undefined; output: string }> {
    const result = await runner(bin, args, { timeoutMs: TIMEOUT_MS, env, signal: options.signal });
    if (result.timedOut) throw failure(args, `timed out after ${TIMEOUT_MS / 1000} s`, result.output);
    return result;
  }

  function failure(args: string[], why: string, output: string): ReleaseSwitcherError {
    const notLoaded = /could not find service/i.test(output);
    return new ReleaseSwitcherError(
      'SUPERVISOR_FAILED',
      `launchctl ${args.join(' ')} ${why}${output.trim() ? `:\n${tail(output)}` : '.'}`,
      {
        hint: notLoaded
          ? `Load the job first: launchctl bootstrap ${domain} ${plist}`
          : `Look at the job with: launchctl print ${target}`,
      },
    );
  }

  async function mustSucceed(args: string[]): Promise<void> {
    const result = await launchctl(args);
    if (result.exitCode !== 0) {
      throw failure(
        args,
        result.exitCode === undefined ? 'could not be run' : `exited with ${result.exitCode}`,
        result.output,
      );
    }
  }

  return {
    name: 'launchd',
    unit: label,
    // -k: kill the running instance and start a new one, in one request; also starts a job that is down.
    restart: () => mustSucceed(['kickstart', '-k', target]),
    start: () => mustSucceed(['kickstart', target]),
    async state() {
      const result = await launchctl(['print', target]);
      if (
        result.exitCode === LAUNCHCTL_NOT_FOUND ||
        (result.exitCode !== 0 && /could not find service/i.test(result.output))
      ) {
        return {
          active: false,
          state: 'not-found',
          mainPid: null,
          restarts: null,
          exitStatus: null,
          processes: { pids: [] },
          detail: `launchd has no service ${target}`,
        };
      }
      if (result.exitCode !== 0)
        throw failure(['print', target], `exited with ${result.exitCode ?? 'no status'}`, result.output);
      return parseLaunchctlPrint(result.output);
    },
  };
}

/** The job's own `key = value` lines, first one wins (nested blocks like endpoints carry a `state` of their own). */
export function launchctlFields(output: string): Map<string, string> {
  const fields = new Map<string, string>();
  const lines = output.split('\n');
  // Output starts with an unindented `target = {`; some callers hand us the indented body without it.
  const first = lines.find((line) => line.trim() !== '') ?? '';
  const top = /^\S.* = \{\s*$/.test(first) ? 1 : 0;
  let depth = 0;
  for (const raw of lines) {
    const line = raw.trim();
    if (line.endsWith('{')) {
      depth++;
      continue;
    }
    if (line === '}') {
      depth--;
      continue;
    }
    const match = depth === top ? /^([a-z][a-z ]*?) = (.*)$/.exec(line) : null;
    if (match?.[1] && match[2] !== undefined && !fields.has(match[1])) fields.set(match[1], match[2]);
  }
  return fields;
}

export function parseLaunchctlPrint(output: string): ServiceState {
  const fields = launchctlFields(output);
  const state = fields.get('state') ?? 'unknown';
  const active = state === 'running';
  const integer = (value: string | undefined): number | null => {
    const match = value === undefined ? null : /^-?\d+/.exec(value);
    return match ? Number(match[0]) : null;
  };
  const pid = integer(fields.get('pid'));
  const signal = fields.get('last terminating signal');
  const exitText = fields.get('last exit code');
  const properties = fields.get('properties') ?? '';
  const detail = [
    signal && `last terminating signal = ${signal}`,
    // "78: EX_CONFIG" says more than 78.
    exitText && /^-?\d+: /.test(exitText) && `last exit code = ${exitText}`,
    properties.includes('penalty box') && 'penalty box',
  ]
    .filter(Boolean)
    .join(', ');
  return {
    active,
    state,
    mainPid: active && pid !== null && pid > 0 ? pid : null,
    // Its process and descendants (where there is a /proc to read them: listener-owner.ts).
    processes: { pids: active && pid !== null && pid > 0 ? [pid] : [] },
    restarts: integer(fields.get('runs')),
    // While running, the last exit code belongs to an earlier instance.
    exitStatus: active ? null : integer(exitText),
    ...(detail ? { detail } : {}),
  };
}

export interface LaunchdPlistOptions {
  label: string;
  /** argv: the program and its arguments (ProgramArguments). */
  program: string[];
  workingDirectory?: string;
  env?: Record<string, string>;
  stdoutPath?: string;
  stderrPath?: string;
  /** Restart the job whenever it exits. @default true */
  keepAlive?: boolean;
  /** Seconds between SIGTERM and SIGKILL when the job is stopped (launchd's own default: 20). */
  exitTimeOut?: number;
}

/** A LaunchAgent/LaunchDaemon property list (XML, the format `plutil -lint` and launchd accept). */
export function launchdPlist(options: LaunchdPlistOptions): string {
  const out: string[] = [];
  const key = (name: string) => out.push(`  <key>${xmlText(name)}</key>`);
  const string = (value: string, indent = '  ') => out.push(`${indent}<string>${xmlText(value)}</string>`);
  key('Label');
  string(options.label);
  key('ProgramArguments');
  out.push('  <array>');
  for (const arg of options.program) string(arg, '    ');
  out.push('  </array>');
  const optional = (name: string, value: string | undefined) => {
    if (value === undefined) return;
    key(name);
    string(value);
  };
  optional('WorkingDirectory', options.workingDirectory);
  if (options.env && Object.keys(options.env).length > 0) {
    key('EnvironmentVariables');
    out.push('  <dict>');
    for (const [name, value] of Object.entries(options.env)) {
      out.push(`    <key>${xmlText(name)}</key>`);
      string(value, '    ');
    }
    out.push('  </dict>');
  }
  optional('StandardOutPath', options.stdoutPath);
  optional('StandardErrorPath', options.stderrPath);
  key('RunAtLoad');
  out.push('  <true/>');
  key('KeepAlive');
  out.push(options.keepAlive === false ? '  <false/>' : '  <true/>');
  if (options.exitTimeOut !== undefined) {
    key('ExitTimeOut');
    out.push(`  <integer>${Math.ceil(options.exitTimeOut)}</integer>`);
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    ...out,
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}

/** XML character data. XML 1.0 has no way to write most C0 controls, even escaped: refuse them. */
function xmlText(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it refuses
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(value)) {
    throw new ReleaseSwitcherError(
      'UNSUPPORTED',
      `A launchd plist cannot hold ${JSON.stringify(value)}: XML 1.0 has no control characters.`,
      {
        hint: 'Remove control characters from the program arguments, paths and environment.',
      },
    );
  }
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
