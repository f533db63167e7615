/**
 * A preset's post-core step (presets/types.ts `finalize`), run with the target release, the service's environment and
 * state, while the service is stopped. Its outcome is judged as the preset says (`verdict`):
 * - `json-status`: OpenClaw's `update finalize --json --yes --no-restart`, run the way its own updater and openclaw/ocm
 *   run it after a core swap (docs/cli/update/how-updates-run.md: Doctor migrations, config repair, plugin
 *   convergence). Its stdout is one JSON document (`status`: ok | warning | failed, `phaseTimings`, `postUpdate`);
 *   `warning` exits 0 and is a success.
 * - `exit-code`: a migration command (the node-http preset's `migrate.js`): exit 0 is a success, anything else a
 *   failure; its stdout is plain text, kept for the operator.
 *
 * The process is started detached, marked in its environment with the transaction it belongs to, and its pid is
 * returned before it is awaited: a runner killed meanwhile leaves a journal naming it, and recovery ends it before the
 * way back touches the state it is writing.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { endMarkedProcesses, killProcessGroup, startDetached } from '../platform/subprocess.js';
import type { RunAs } from '../platform/run-as.js';
import type { TransactionWarning } from '../model/state.js';

/** The environment variable that marks a finalize process as one a transaction of ours started. */
export const FINALIZE_MARKER = 'RELEASE_SWITCHER_FINALIZE';

export interface FinalizeRequest {
  /** The service's Node. */
  node: string;
  /** The target release's folder: the command runs inside it. */
  releaseDir: string;
  /** The command inside the release (its first word a path in it). */
  args: readonly string[];
  /** The service's environment, with the preset's additions (OPENCLAW_UPDATE_POST_CORE=1). */
  env: NodeJS.ProcessEnv;
  /** Where its output goes (a private folder of the root); kept for the operator. */
  outputDir: string;
  /** The transaction it belongs to: its marker's value. */
  tx: string;
  /** The stem of its output files in `outputDir`. @default tx */
  outputName?: string | undefined;
  /** Bound on the whole run; past it the process tree is ended and the run fails. */
  timeoutMs: number;
  /**
   * The command's per-phase deadline option (`--timeout`): given phaseTimeoutSeconds(timeoutMs), so that a phase that
   * hangs is ended by the command itself, with its `stuckPhase` verdict, before our bound.
   */
  phaseTimeoutFlag?: string | undefined;
  /** How its outcome is judged (presets/types.ts). @default "json-status" */
  verdict?: FinalizeVerdictMode | undefined;
  signal?: AbortSignal | undefined;
  /** The account it runs as (the service's). @default this process's */
  as?: RunAs | undefined;
  /**
   * Run on a copy of the state that it sees at the live state's own path (finalize done ahead): in a mount namespace
   * of its own (inNamespace), `copy` mounted over `live`. @default the state where it is
   */
  onCopy?: OnCopy | undefined;
}

/** Finalize on a copy seen at the live path (FinalizeRequest.onCopy). */
export interface OnCopy {
  copy: string;
  live: string;
  /**
   * Folders outside the state that the command gets an empty private one of (a tmpfs in its namespace): where the
   * service keeps ownership records keyed by the state's path, which would name the live service as the copy's owner.
   */
  privateFolders?: readonly string[] | undefined;
  /**
   * Entries of the live folder (relative paths) kept out of the copy, the install inside the state (install-cli.sh's
   * Node and package in `~/.openclaw/tools`): seen at their place in the copy, the live ones, read-only.
   */
  kept?: readonly string[] | undefined;
}

const UNSHARE = '/usr/bin/unshare';
/**
 * A command run in a private mount namespace where `$1` (the copy) is mounted over `$2` (the live folder): an
 * unprivileged user namespace mapping the account to itself (files it writes are the account's), the mount made with
 * the namespace's capabilities, which are then dropped before the command runs. Outside, nothing sees the mount, and
 * the service that still runs goes on with its live state. The kept entries (`$3` of them) are first bound from the
 * live folder into the copy, read-only (a mount point made in the copy where it has none), and the copy is then bound
 * with its mounts (`--rbind`): the command finds the install that lives in the state, and cannot change what serves.
 */
const IN_NAMESPACE = [
  'copy=$1 live=$2 k=$3; shift 3',
  'while [ "$k" -gt 0 ]; do',
  '  if [ -e "$live/$1" ]; then',
  '    case $1 in */*) mkdir -p -- "$copy/${1%/*}" || exit 125;; esac',
  '    if [ -d "$live/$1" ]; then mkdir -p -- "$copy/$1"; elif [ ! -e "$copy/$1" ]; then : >"$copy/$1"; fi || exit 125',
  '    mount --bind -- "$live/$1" "$copy/$1" && mount -o remount,bind,ro -- "$copy/$1" || exit 125',
  '  fi',
  '  shift; k=$((k - 1))',
  'done',
  'n=$1; shift',
  'mount --rbind -- "$copy" "$live" || exit 125',
  'while [ "$n" -gt 0 ]; do mkdir -p -- "$1" && mount -t tmpfs -o mode=0700 tmpfs "$1" || exit 125; shift; n=$((n - 1)); done',
  'exec /usr/bin/setpriv --inh-caps=-all --ambient-caps=-all --bounding-set=-all -- "$@"',
].join('\n');

/** `file args` wrapped to run with `copy` at `live`'s path (FinalizeRequest.onCopy). */
export function inNamespace(file: string, args: readonly string[], onCopy: OnCopy): [string, string[]] {
  const folders = onCopy.privateFolders ?? [];
  const kept = onCopy.kept ?? [];
  return [
    UNSHARE,
    [
      '--user',
      '--map-current-user',
      '--mount',
      '--keep-caps',
      '--',
      '/bin/sh',
      '-c',
      IN_NAMESPACE,
      'sh',
      onCopy.copy,
      onCopy.live,
      String(kept.length),
      ...kept,
      String(folders.length),
      ...folders,
      file,
      ...args,
    ],
  ];
}

/** How a finalize's outcome is judged: its JSON's `status` (and its exit), or its exit code alone. */
export type FinalizeVerdictMode = 'json-status' | 'exit-code';

/** What finalize said: its exit, its JSON's verdict and the parts of it worth keeping in the journal. */
export interface FinalizeVerdict {
  ok: boolean;
  exitCode: number | null;
  /**
   * Its JSON's `status` (`ok`, `warning`, `failed`), or `unreadable`/`timed-out`; judged by its exit code: `ok` or
   * `failed` (or `timed-out`).
   */
  status: string;
  ms: number;
  phases?: { phase: string; durationMs?: number; outcome?: string }[];
  doctor?: unknown;
  plugins?: { status?: unknown; changed?: unknown; warnings?: unknown; npm?: unknown };
  error?: unknown;
  stuckPhase?: unknown;
  /** The last lines of its stderr (phase receipts), when it failed. */
  stderrTail?: string;
  /** The last lines of its stdout, when it failed and its stdout is plain text (`exit-code`). */
  outputTail?: string;
  /** Processes it started were still running when it exited, and were ended. */
  leftoversEnded?: boolean;
}

/**
 * Seconds of the command's own per-phase deadline: a phase past it and its settling wait (up to as long again) fit in
 * our bound, with a margin.
 */
export function phaseTimeoutSeconds(boundMs: number): number {
  return Math.max(30, Math.floor((boundMs / 1000 - 30) / 2));
}

export interface StartedFinalize {
  pid: number;
  /** Resolves when it exits (or is ended at the deadline) with its verdict. */
  verdict: Promise<FinalizeVerdict>;
}

export async function startFinalize(request: FinalizeRequest): Promise<StartedFinalize> {
  await fs.mkdir(request.outputDir, { recursive: true, mode: 0o700 });
  const mode = request.verdict ?? 'json-status';
  // Plain text for a command judged by its exit code: not named as JSON.
  const stem = request.outputName ?? request.tx;
  const stdoutFile = path.join(request.outputDir, `${stem}.${mode === 'json-status' ? 'json' : 'out'}`);
  const logFile = path.join(request.outputDir, `${stem}.log`);
  await Promise.all([fs.rm(stdoutFile, { force: true }), fs.rm(logFile, { force: true })]);
  const [entry, ...given] = request.args;
  const rest = request.phaseTimeoutFlag
    ? [...given, request.phaseTimeoutFlag, String(phaseTimeoutSeconds(request.timeoutMs))]
    : given;
  const started = performance.now();
  const [file, argv] = request.onCopy
    ? inNamespace(request.node, [path.join(request.releaseDir, entry!), ...rest], request.onCopy)
    : [request.node, [path.join(request.releaseDir, entry!), ...rest]];
  const child = await startDetached(file, argv, {
    cwd: request.releaseDir,
    env: { ...request.env, [FINALIZE_MARKER]: request.tx },
    logFile,
    stdoutFile,
    as: request.as,
    ...(request.signal && { signal: request.signal }),
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killProcessGroup(child.pid);
  }, request.timeoutMs);
  const verdict = child.exited.then(async (exitCode) => {
    clearTimeout(timer);
    const ms = Math.round(performance.now() - started);
    // Whatever it started is gone when the step ends, whatever its outcome: its group, and what left the group but
    // still carries the marker (a Doctor or npm child that outlived it would go on writing the state).
    killProcessGroup(child.pid);
    const leftovers = await endMarkedProcesses({ name: FINALIZE_MARKER, value: request.tx });
    const output = await fs.readFile(stdoutFile, 'utf8').catch(() => '');
    const stderr = await fs.readFile(logFile, 'utf8').catch(() => '');
    return {
      ...readVerdict({ output, stderr, exitCode, ms, timedOut, verdict: mode }),
      ...(leftovers && { leftoversEnded: true }),
    };
  });
  return { pid: child.pid, verdict };
}

/** The parts of `update finalize --json` we keep (docs/cli/update/repair-and-recovery.md). */
interface FinalizeJson {
  status?: unknown;
  phaseTimings?: { phase: string; durationMs?: number; outcome?: string }[];
  postUpdate?: {
    doctor?: unknown;
    plugins?: { status?: unknown; changed?: unknown; warnings?: unknown; npm?: unknown };
  };
  error?: unknown;
  stuckPhase?: unknown;
}

/**
 * The verdict from finalize's exit and stdout: with `json-status` (the default) success is exit 0 with a JSON status
 * other than `failed`; with `exit-code`, exit 0.
 */
export function readVerdict(run: {
  output: string;
  stderr: string;
  exitCode: number | null;
  ms: number;
  timedOut: boolean;
  verdict?: FinalizeVerdictMode | undefined;
}): FinalizeVerdict {
  if (run.verdict === 'exit-code') return byExitCode(run);
  let json: FinalizeJson | undefined;
  try {
    json = JSON.parse(run.output.slice(run.output.indexOf('{')));
  } catch {
    json = undefined;
  }
  const status = run.timedOut ? 'timed-out' : typeof json?.status === 'string' ? json.status : 'unreadable';
  const ok = run.exitCode === 0 && (status === 'ok' || status === 'warning');
  const plugins = json?.postUpdate?.plugins;
  return {
    ok,
    exitCode: run.exitCode,
    status,
    ms: run.ms,
    ...(Array.isArray(json?.phaseTimings) && {
      phases: json.phaseTimings.map((p) => ({ phase: p.phase, durationMs: p.durationMs, outcome: p.outcome })),
    }),
    ...(json?.postUpdate?.doctor !== undefined && { doctor: json.postUpdate.doctor }),
    ...(plugins && {
      plugins: { status: plugins.status, changed: plugins.changed, warnings: plugins.warnings, npm: plugins.npm },
    }),
    ...(json?.error !== undefined && { error: json.error }),
    ...(json?.stuckPhase !== undefined && { stuckPhase: json.stuckPhase }),
    ...(!ok && { stderrTail: run.stderr.split('\n').slice(-12).join('\n') }),
  };
}

/** A command judged by its exit alone: 0 is `ok`; its plain output's last lines kept when it failed. */
function byExitCode(run: {
  output: string;
  stderr: string;
  exitCode: number | null;
  ms: number;
  timedOut: boolean;
}): FinalizeVerdict {
  const ok = run.exitCode === 0 && !run.timedOut;
  const last = (text: string) => text.trimEnd().split('\n').slice(-12).join('\n');
  return {
    ok,
    exitCode: run.exitCode,
    status: run.timedOut ? 'timed-out' : ok ? 'ok' : 'failed',
    ms: run.ms,
    ...(!ok && { stderrTail: last(run.stderr), outputTail: last(run.output) }),
  };
}

/**
 * What a finalize that succeeded with `status: "warning"` wants the operator to read, as the transaction's warnings:
 * each plugin warning (`postUpdate.plugins.warnings`: its `reason` as the code, its `pluginId`), each plugin npm
 * outcome that ended in error (its `code`, e.g. PLUGIN_CAPABILITY_CONSENT_REQUIRED: the plugin stays on its old
 * version), then each of Doctor's warnings not already said by a plugin warning. Nothing for any other status.
 */
export function finalizeWarnings(verdict: FinalizeVerdict): TransactionWarning[] {
  if (verdict.status !== 'warning') return [];
  const out: TransactionWarning[] = [];
  const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);
  const add = (fields: { code?: unknown; plugin?: unknown; message: unknown }) => {
    const message = text(fields.message);
    if (!message) return;
    const code = text(fields.code);
    const plugin = text(fields.plugin);
    out.push({ step: 'finalize', ...(code && { code }), ...(plugin && { plugin }), message });
  };
  const records = (value: unknown) =>
    (Array.isArray(value) ? value : []).filter((v): v is Record<string, unknown> => !!v && typeof v === 'object');
  for (const w of records(verdict.plugins?.warnings)) add({ code: w.reason, plugin: w.pluginId, message: w.message });
  const npm = verdict.plugins?.npm as { outcomes?: unknown } | undefined;
  for (const o of records(npm?.outcomes))
    if (o.status === 'error') add({ code: o.code, plugin: o.pluginId, message: o.message });
  const doctor = verdict.doctor as { warnings?: unknown } | undefined;
  for (const line of Array.isArray(doctor?.warnings) ? doctor.warnings : []) {
    const message = text(line);
    if (!message || out.some((w) => message.includes(w.message))) continue;
    add({ plugin: /^Plugin "([^"]+)"/.exec(message)?.[1], message });
  }
  if (out.length === 0) add({ message: 'update finalize ended with status warning and no warning text' });
  return out;
}

/**
 * After a runner died: end the finalize processes it left for transaction `tx`, found by the marker in their
 * environment (the journaled pid may be missing: the runner can die between the spawn and the journal write).
 */
export async function endOrphanedFinalize(tx: string): Promise<boolean> {
  return endMarkedProcesses({ name: FINALIZE_MARKER, value: tx });
}
