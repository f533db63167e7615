/**
 * What the supervised service really runs, which `current` alone cannot say: a unit that runs
 * `node <root>/current/…` keeps running the release it started with after `current` is flipped.
 * Evidence, strongest first: the version the health endpoint reports; a release path in the main
 * process's working directory or command line; else whether the process started after the flip
 * that made `current` what it is (then it runs `current`) or before it (then it runs what `current`
 * was before that flip, as the journal recorded it).
 */
import fs from 'node:fs/promises';
import type { Config } from '../store/config.js';
import { readState } from '../store/journal.js';
import type { Layout } from '../store/layout.js';
import { readLinkVersion } from '../store/links.js';
import { getJson, readField } from '../service/health.js';
import { supervisorFor } from '../service/supervisors/index.js';

export type RunningSource = 'health' | 'process' | 'start-time' | 'journal';

export interface Running {
  /** The version that runs; null when the process is there but its version cannot be told. */
  version: string | null;
  pid: number | null;
  /** When the main process started (ISO), when the platform tells (Linux /proc). */
  since: string | null;
  /** What told the version. */
  source: RunningSource | null;
  /** True when what runs is not `current` (updated but not restarted); null when it cannot be told. */
  stale: boolean | null;
}

export interface RunningContext {
  layout: Layout;
  config: Config;
  env: NodeJS.ProcessEnv;
}

const HEALTH_TIMEOUT_MS = 1_500;

/** `null` when nothing runs (or there is no supervisor and no health endpoint to ask). */
export async function whatRuns(ctx: RunningContext): Promise<Running | null> {
  const supervisor = supervisorFor(ctx.config, ctx.env);
  const state = supervisor ? await supervisor.state().catch(() => null) : null;
  const pid = state?.mainPid ?? null;
  const healthVersion = await healthVersionOf(ctx.config);
  if (pid === null && healthVersion === null) return null;
  const current = await readLinkVersion(ctx.layout, 'current').catch(() => null);
  const since = pid === null ? null : await processStart(pid);
  const fromPath = pid === null ? null : await runningRelease(pid, ctx.layout.releases);
  const told =
    healthVersion !== null
      ? { version: healthVersion, source: 'health' as const }
      : fromPath !== null
        ? { version: fromPath, source: 'process' as const }
        : await byStartTime(ctx.layout, current, since);
  return {
    version: told.version,
    pid,
    since: since === null ? null : new Date(since).toISOString(),
    source: told.source,
    stale: told.version !== null ? told.version !== current : null,
  };
}

/** Through `current`: started after its last flip → current; before → what current was before that flip. */
async function byStartTime(
  layout: Layout,
  current: string | null,
  since: number | null,
): Promise<{ version: string | null; source: RunningSource | null }> {
  const flippedAt = await fs.lstat(layout.current).then(
    (s) => s.mtimeMs,
    () => null,
  );
  if (since === null || flippedAt === null || current === null) return { version: null, source: null };
  if (since >= flippedAt) return { version: current, source: 'start-time' };
  const state = await readState(layout.root).catch(() => null);
  const flips = [...(state?.history ?? []), ...(state?.transaction ? [state.transaction] : [])].filter(
    (tx) => tx.to === current && tx.steps.some((s) => s.name === 'flip' && s.status === 'ok'),
  );
  const before = flips.at(-1)?.before?.current ?? flips.at(-1)?.from ?? null;
  return before && before !== current ? { version: before, source: 'journal' } : { version: null, source: null };
}

async function healthVersionOf(config: Config): Promise<string | null> {
  if (!config.healthUrl) return null;
  try {
    const response = await getJson(config.healthUrl, HEALTH_TIMEOUT_MS);
    if (response.status < 200 || response.status > 299) return null;
    const version = readField(response.body, config.versionField);
    return typeof version === 'string' && version !== '' ? version : null;
  } catch {
    return null; // no answer: the version is told some other way, or not at all
  }
}

/**
 * Start time of a process (epoch ms) from /proc: starttime (clock ticks since boot, USER_HZ = 100
 * on Linux) against /proc/uptime, both with 10 ms resolution (btime has whole seconds only).
 * Null where there is no /proc (macOS).
 */
export async function processStart(pid: number): Promise<number | null> {
  try {
    const [stat, uptime] = await Promise.all([
      fs.readFile(`/proc/${pid}/stat`, 'utf8'),
      fs.readFile('/proc/uptime', 'utf8'),
    ]);
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]);
    const uptimeMs = Number(uptime.split(' ')[0]) * 1000;
    return Number.isFinite(startTicks) && Number.isFinite(uptimeMs)
      ? Math.round(Date.now() - uptimeMs + startTicks * 10)
      : null;
  } catch {
    return null;
  }
}

/** The release a running process runs: from its working directory or its command line. */
export async function runningRelease(pid: number, releasesDir: string): Promise<string | null> {
  const inRelease = (p: string) =>
    p.startsWith(`${releasesDir}/`) ? (p.slice(releasesDir.length + 1).split('/')[0] ?? null) : null;
  const cwd = await fs.readlink(`/proc/${pid}/cwd`).catch(() => '');
  if (inRelease(cwd)) return inRelease(cwd);
  const args = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  for (const arg of args) if (inRelease(arg)) return inRelease(arg);
  return null;
}
