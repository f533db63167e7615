// Shared pieces of the supervisor benchmarks: a plain (release-switcher-free) unit for the anchors, health polling,
// systemd's own timestamps, a bounded load loop, medians, and saving results next to the other benches'.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startupzPoller } from '../../test/support/openclaw.ts';
import type { UserManager } from '../../test/support/systemd.ts';

const PROJECT_DIR = resolve(import.meta.dirname, '../..');

/** CLOCK_MONOTONIC in ms: the clock systemd's `*TimestampMonotonic` properties use (in µs), so the two line up. */
export const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const ms = (value: number | null | undefined): string =>
  value == null || !Number.isFinite(value) ? 'n/a' : `${Math.round(value)} ms`;
/** Median with its spread, as the benches print them: `12.3 s (spread 11.0 s..14.2 s)`; `n/a` for no samples. */
export const medianSpread = (xs: number[]): string =>
  xs.length ? `${ms(median(xs))} (spread ${ms(Math.min(...xs))}..${ms(Math.max(...xs))})` : 'n/a';
export const ratio = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}×` : 'n/a');
export const goal = (value: number, limit: number): string =>
  value <= limit ? `meets goal ≤ ${limit}×` : `MISSES goal ≤ ${limit}×`;

/** PASS or MISS of `value ≤ limit`, n/a without a figure: a bench reports a miss, it does not fail on one. */
export const passMiss = (value: number, limit: number): string =>
  Number.isFinite(value) && Number.isFinite(limit) ? (value <= limit ? 'PASS' : 'MISS') : 'n/a';
/** The 1-minute load average, as the benches print it beside each measurement (2 shared cores: it varies). */
export const load = (): number => Math.round(loadavg()[0]! * 10) / 10;

/** A transaction's step as the CLI's `--json` gives it, with the evidence the openclaw benches print. */
export interface TxStep {
  name: string;
  ms: number;
  status: string;
  detail?: string;
  evidence?: {
    accepted?: boolean;
    /**
     * The finalize step's finalize done ahead: its write set put in place by rename (`swapped`, with the service's
     * writes `merged` into the finalized databases), or not (`forcedBy`: what the live state changed that sent finalize
     * into the window). Absent when finalize did not run ahead.
     */
    ahead?: {
      swapped: boolean;
      entries?: string[];
      merged?: Record<string, unknown>;
      changed?: string[];
      forcedBy?: string[];
      ms?: number;
    };
    prefetch?: { ms: number; ok: boolean; specs: string[] };
    verdict?: {
      status?: string;
      ms?: number;
      phases?: { phase: string; durationMs?: number }[];
      plugins?: { npm?: unknown };
    };
  };
}

/** A transaction's stop window (`tx.window`): where the outage went, in contiguous parts. */
export interface TxWindow {
  parts: { part: string; ms: number }[];
  totalMs: number;
}

/** A transaction's step times, `name ms` pairs (and whether the restart handoff was accepted). */
export const stepsText = (result: { steps?: TxStep[] }): string =>
  (result.steps ?? [])
    .map(
      (s) =>
        `${s.name} ${ms(s.ms)}${s.name === 'restart-handoff' ? ` (accepted ${s.evidence?.accepted ?? false})` : ''}`,
    )
    .join(', ');

/** What the finalize step says of finalize done ahead (`evidence.ahead`), on one line: the key fact of an update's window. */
export const aheadText = (step: TxStep | undefined): string => {
  if (!step) return 'no finalize step';
  const ahead = step.evidence?.ahead;
  if (!ahead) return `not run ahead (no evidence.ahead; the step ${step.status})`;
  return ahead.swapped
    ? `swapped true, ${ahead.entries?.length ?? 0} entries put in place by rename in ${ms(ahead.ms)}; merged ${JSON.stringify(ahead.merged ?? {})}`
    : `swapped false, forcedBy ${JSON.stringify(ahead.forcedBy ?? [])}; changed ${JSON.stringify(ahead.changed ?? [])}`;
};

/** A stop window on one line: `total: part ms, part ms, …`. */
export const windowText = (window: TxWindow | undefined): string =>
  window ? `${ms(window.totalMs)}: ${window.parts.map((p) => `${p.part} ${ms(p.ms)}`).join(', ')}` : 'n/a';

/** Writes `.bench-cache/results/<name>-<ISO time>.json` (the naming bench/lib/measure.mjs uses); returns the path. */
export function saveResult(name: string, data: unknown): string {
  const dir = join(PROJECT_DIR, '.bench-cache', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/**
 * A unit as a user would write it without release-switcher: node runs the given script, nothing before it.
 * Same restart policy, stop timeout and start-limit setting as the unit release-switcher writes.
 */
export function plainUnit(options: {
  description: string;
  script: string;
  port: number;
  log: string;
  workingDirectory: string;
}): string {
  return [
    '[Unit]',
    `Description=${options.description}`,
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    `ExecStart=${process.execPath} ${options.script} --port ${options.port}`,
    `WorkingDirectory=${options.workingDirectory}`,
    'Restart=always',
    'RestartSec=500ms',
    'TimeoutStopSec=11',
    `StandardOutput=append:${options.log}`,
    `StandardError=append:${options.log}`,
    '',
  ].join('\n');
}

export interface Health {
  status: number;
  version?: string;
}

export async function health(port: number, timeoutMs = 1000): Promise<Health | null> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await response.json().catch(() => ({}))) as { version?: string };
    return { status: response.status, version: body.version };
  } catch {
    return null;
  }
}

/** Polls /health every `pollMs` until it answers 200 (with `version`, when given); resolves to monoMs() of that answer. */
export async function firstHealthy(
  port: number,
  options: { version?: string; pollMs: number; timeoutMs?: number; stop?: () => boolean },
): Promise<number> {
  const deadline = monoMs() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const h = await health(port);
    const at = monoMs();
    if (h?.status === 200 && (options.version === undefined || h.version === options.version)) return at;
    if (options.stop?.()) return Number.NaN;
    if (at > deadline)
      throw new Error(
        `port ${port}: not healthy${options.version ? ` with ${options.version}` : ''} within ${options.timeoutMs ?? 30_000} ms (last: ${JSON.stringify(h)})`,
      );
    await delay(options.pollMs);
  }
}

export interface UnitTimes {
  /** When the unit left `active`: the stop half of a restart began (monoMs clock). */
  activeExit: number;
  /** When the new main process was forked (monoMs clock). */
  execMainStart: number;
  mainPid: number;
}

/** systemd's own record of the last restart, in our monotonic clock. */
export async function unitTimes(manager: UserManager, unit: string): Promise<UnitTimes> {
  const props = ['ActiveExitTimestampMonotonic', 'ExecMainStartTimestampMonotonic', 'MainPID'];
  const r = await manager.systemctl(['show', unit, ...props.map((p) => `--property=${p}`)]);
  const get = (key: string) => Number(new RegExp(`^${key}=(.*)$`, 'm').exec(r.stdout)?.[1] ?? Number.NaN);
  return {
    activeExit: get('ActiveExitTimestampMonotonic') / 1000,
    execMainStart: get('ExecMainStartTimestampMonotonic') / 1000,
    mainPid: get('MainPID'),
  };
}

export type Outcome =
  | 'ok'
  | 'module_error'
  | 'http_500_other'
  | 'http_other'
  | 'refused'
  | 'reset'
  | 'timeout'
  | 'other';

export interface LoadEvent {
  /** monoMs() when the request was sent and when its outcome was known. */
  sent: number;
  done: number;
  outcome: Outcome;
  /** Version that served an ok response (from the chunk's output), or the error text. */
  detail: string;
}

export interface LoadOptions {
  port: number;
  path: string;
  /** @default 4 */
  clients?: number;
  /** Pause between a client's requests. @default 20 */
  intervalMs?: number;
  /** Per-request timeout. @default 1000 */
  timeoutMs?: number;
  /** Hard cap on requests, whatever happens. @default 4000 */
  maxRequests?: number;
}

export interface Load {
  events: LoadEvent[];
  /** Stops sending and resolves once every client's last request has finished. */
  stop(): Promise<LoadEvent[]>;
}

const MODULE_ERROR = /ERR_MODULE_NOT_FOUND|Cannot find module/;

/** `clients` loops, each fetching `path` then pausing `intervalMs`, recording every outcome with its time. */
export function startLoad(options: LoadOptions): Load {
  const { port, path, clients = 4, intervalMs = 20, timeoutMs = 1000, maxRequests = 4000 } = options;
  const events: LoadEvent[] = [];
  let stopped = false;
  let sent = 0;
  const one = async (): Promise<LoadEvent> => {
    const start = monoMs();
    try {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      const text = await response.text();
      const done = monoMs();
      if (response.status === 200) {
        const version =
          /@(\d+\.\d+\.\d+[^ )]*)/.exec((JSON.parse(text) as { output?: string }).output ?? '')?.[1] ?? '?';
        return { sent: start, done, outcome: 'ok', detail: version };
      }
      const outcome: Outcome =
        response.status === 500 ? (MODULE_ERROR.test(text) ? 'module_error' : 'http_500_other') : 'http_other';
      return { sent: start, done, outcome, detail: `${response.status} ${text.slice(0, 300)}` };
    } catch (error) {
      const err = error as Error & { cause?: { code?: string; message?: string } };
      const code = err.cause?.code ?? err.name;
      const outcome: Outcome =
        code === 'ECONNREFUSED'
          ? 'refused'
          : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE'
            ? 'reset'
            : code === 'TimeoutError' || code === 'AbortError'
              ? 'timeout'
              : 'other';
      return { sent: start, done: monoMs(), outcome, detail: `${code}: ${err.cause?.message ?? err.message}` };
    }
  };
  const client = async () => {
    while (!stopped && sent < maxRequests) {
      sent++;
      events.push(await one());
      await delay(intervalMs);
    }
  };
  const running = Promise.all(Array.from({ length: clients }, client));
  return {
    events,
    async stop() {
      stopped = true;
      await running;
      return events;
    },
  };
}

export interface Window {
  /** The old process was told to stop (systemd's ActiveExitTimestamp). */
  start: number;
  /** The first ok answer from the new version. */
  end: number;
}

export interface OutcomeSummary {
  count: number;
  beforeWindow: number;
  inWindow: number;
  afterWindow: number;
  /** ms relative to the window's start. */
  firstAt: number | null;
  lastAt: number | null;
  sample?: string;
}

/**
 * systemd sends SIGTERM (unit_kill_context) before it records the state change that stamps ActiveExitTimestamp
 * (service_enter_signal → service_set_state), so the first refusal can be seen a fraction of a millisecond before
 * the stamp. Outcomes that close to the window's start count as inside it.
 */
export const WINDOW_SLACK_MS = 5;

/** Per outcome: how many, and when relative to the restart window (classified by when the outcome was known). */
export function summarize(events: LoadEvent[], window: Window): Record<string, OutcomeSummary> {
  const out: Record<string, OutcomeSummary> = {};
  for (const e of events) {
    const key = e.outcome === 'ok' ? `ok ${e.detail}` : e.outcome;
    const s = out[key] ?? { count: 0, beforeWindow: 0, inWindow: 0, afterWindow: 0, firstAt: null, lastAt: null };
    out[key] = s;
    s.count++;
    if (e.done < window.start - WINDOW_SLACK_MS) s.beforeWindow++;
    else if (e.done <= window.end) s.inWindow++;
    else s.afterWindow++;
    const at = Math.round(e.done - window.start);
    s.firstAt = s.firstAt === null ? at : Math.min(s.firstAt, at);
    s.lastAt = s.lastAt === null ? at : Math.max(s.lastAt, at);
    if (e.outcome !== 'ok') s.sample ??= e.detail;
  }
  return out;
}

/** The outage a poller of `/startupz` sees (an `ok` answer is up): test/support/openclaw.ts startupzPoller. */
export const outagePoller = (port: number) => startupzPoller(port);
