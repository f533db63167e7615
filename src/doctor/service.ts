/**
 * doctor's checks of the supervised service: the unit starts the service through `current`, the
 * running process runs the release `current` names (drift: "updated but not restarted"), the user
 * and system managers do not both have the unit, and a user unit survives logout (linger).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readLinkVersion } from '../store/links.js';
import { run } from '../platform/subprocess.js';
import { supervisorFor } from '../service/supervisors/index.js';
import { controlTool } from '../service/supervisors/types.js';
import { systemctl } from '../service/systemctl.js';
import { getJson, notStarted, readField } from '../service/health.js';
import { startedWhenFor } from '../presets/index.js';
import type { Config } from '../store/config.js';
import type { CheckContext, CheckResult } from './checks.js';
import { whatRuns } from './running.js';
import { bootCheckCanWrite, serviceReadsCurrent } from './access.js';

const TIMEOUT_MS = 15_000;
/** Where logind records `loginctl enable-linger` (one empty file per account). */
const LINGER_DIR = '/var/lib/systemd/linger';
const HEALTH_TIMEOUT_MS = 5_000;

function systemctlIn(ctx: CheckContext, user: boolean, args: string[]) {
  return systemctl(args, { scope: user ? 'user' : 'system', env: ctx.env, signal: ctx.signal, timeoutMs: TIMEOUT_MS });
}

const isSystemd = (ctx: CheckContext) =>
  ctx.config.supervisor === 'systemd' || ctx.config.supervisor === 'systemd-system';

export async function unitThroughCurrent(ctx: CheckContext): Promise<CheckResult | null> {
  if (!isSystemd(ctx) || !ctx.config.unit) return null;
  const shown = await systemctlIn(ctx, ctx.config.supervisor === 'systemd', [
    'show',
    ctx.config.unit,
    '--property=ExecStart',
    '--value',
  ]);
  const execStart = shown.output.trim();
  if (shown.exitCode !== 0 || execStart === '')
    return {
      name: 'unit',
      ok: false,
      detail: `cannot read ExecStart of ${ctx.config.unit}: ${shown.output.trim().slice(0, 200)}`,
    };
  const current = `${path.join(ctx.layout.root, 'current')}/`;
  if (execStart.includes(current)) return { name: 'unit', ok: true, detail: `ExecStart runs through ${current}` };
  const versioned = execStart.includes(`${ctx.layout.releases}/`);
  return {
    name: 'unit',
    ok: false,
    detail: `ExecStart of ${ctx.config.unit} ${versioned ? 'names a versioned release path' : 'does not go through current'} (${execStart.slice(0, 160)}): switches will not reach it. Fix: release-switcher unit --install`,
  };
}

/** How to restart the service, in the supervisor's own words. */
export function restartCommand(supervisor: { name: string; unit: string }): string {
  return `${controlTool(supervisor.name)} restart ${supervisor.unit}`;
}

export async function drift(ctx: CheckContext): Promise<CheckResult | null> {
  const supervisor = supervisorFor(ctx.config, ctx.env, ctx.signal);
  if (!supervisor) return null;
  const running = await whatRuns(ctx);
  if (!running?.pid) return { name: 'drift', ok: true, detail: 'the service is not running: nothing to compare' };
  const current = await readLinkVersion(ctx.layout, 'current').catch(() => null);
  const pid = running.pid;
  if (running.version === null)
    return {
      name: 'drift',
      ok: true,
      detail: `cannot tell which release pid ${pid} runs (no health version, no release path in its working directory or command line, no start time)`,
    };
  const how =
    running.source === 'health'
      ? 'its health endpoint says so'
      : running.source === 'process'
        ? 'by its path'
        : `it started ${running.since} ${running.source === 'start-time' ? 'after' : 'before'} current was flipped`;
  if (!running.stale)
    return { name: 'drift', ok: true, detail: `pid ${pid} runs ${running.version}, the current release (${how})` };
  // A unit that names a versioned release path runs that release whatever current says: a restart alone does not help.
  const pinnedByUnit = (await unitPathVersion(ctx)) === running.version;
  const fix = pinnedByUnit
    ? `its unit names releases/${running.version}: run release-switcher unit --install, then ${restartCommand(supervisor)}`
    : `Restart the service (${restartCommand(supervisor)})`;
  return {
    name: 'drift',
    ok: false,
    detail: `pid ${pid} runs ${running.version} but current is ${current}: updated but not restarted (${how}). ${fix}`,
  };
}

/** The release a systemd unit's ExecStart names by path, if any. */
async function unitPathVersion(ctx: CheckContext): Promise<string | null> {
  if (!isSystemd(ctx) || !ctx.config.unit) return null;
  const shown = await systemctlIn(ctx, ctx.config.supervisor === 'systemd', [
    'show',
    ctx.config.unit,
    '--property=ExecStart',
    '--value',
  ]).catch(() => null);
  const match = shown?.output.match(
    new RegExp(`${ctx.layout.releases.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/([^/ ;]+)/`),
  );
  return match?.[1] ?? null;
}

export async function scopeMismatch(ctx: CheckContext): Promise<CheckResult | null> {
  if (!isSystemd(ctx) || !ctx.config.unit) return null;
  const user = ctx.config.supervisor === 'systemd';
  const other = await systemctlIn(ctx, !user, ['cat', ctx.config.unit]);
  if (other.exitCode !== 0)
    return { name: 'unit-scope', ok: true, detail: `no ${user ? 'system' : 'user'} unit named ${ctx.config.unit}` };
  return {
    name: 'unit-scope',
    ok: false,
    detail: `both a user and a system unit named ${ctx.config.unit} exist; release-switcher drives the ${user ? 'user' : 'system'} one. Disable the other.`,
  };
}

export async function linger(ctx: CheckContext): Promise<CheckResult | null> {
  if (ctx.config.supervisor !== 'systemd') return null;
  const user = os.userInfo().username;
  // logind keeps the setting as a file: readable without logind running (or asking it over D-Bus).
  const flagged = await fs.stat(path.join(LINGER_DIR, user)).then(
    () => true,
    () => false,
  );
  const shown = flagged
    ? null
    : await run('loginctl', ['show-user', user, '--property=Linger', '--value'], {
        env: ctx.env,
        signal: ctx.signal,
        timeoutMs: TIMEOUT_MS,
      }).catch(() => null);
  const value = flagged ? 'yes' : shown?.exitCode === 0 ? shown.output.trim() : '';
  if (value === 'yes') return { name: 'linger', ok: true, detail: `linger is enabled for ${user}` };
  if (ctx.fix) {
    const enabled = await run('loginctl', ['enable-linger', user], {
      env: ctx.env,
      signal: ctx.signal,
      timeoutMs: TIMEOUT_MS,
    }).catch(() => null);
    if (enabled?.exitCode === 0)
      return {
        name: 'linger',
        ok: false,
        detail: `linger was off for ${user}`,
        fixed: `loginctl enable-linger ${user}`,
      };
  }
  // Unknown (no logind to ask, as in a container or a session without D-Bus) is a warning, not a failure: nothing says
  // the service stops at logout, and doctor exits 0 on warnings.
  if (!value)
    return {
      name: 'linger',
      ok: true,
      warning: true,
      detail: `linger is unknown for ${user} (logind did not answer${shown?.output ? `: ${shown.output.trim().split('\n')[0]}` : ''}): if logind runs here, the user manager and the service stop at logout unless: loginctl enable-linger ${user}`,
    };
  return {
    name: 'linger',
    ok: false,
    detail: `linger is ${value} for ${user}: the user manager and the service stop at logout. Fix: loginctl enable-linger ${user}`,
  };
}

/**
 * While the service is active, its health URL answers with the current release's version: a service that moved
 * off its port (a unit rewritten with another `--port`), or runs another version, is down for its users even
 * though the supervisor says active.
 */
export async function healthAnswers(ctx: CheckContext): Promise<CheckResult | null> {
  const supervisor = supervisorFor(ctx.config, ctx.env, ctx.signal);
  if (!supervisor || !ctx.config.healthUrl) return null;
  const state = await supervisor.state().catch(() => null);
  if (!state?.active)
    return {
      name: 'health',
      ok: true,
      detail: `the service is not active (${state?.state ?? 'unknown'}): nothing to ask`,
    };
  const current = await readLinkVersion(ctx.layout, 'current').catch(() => null);
  const url = ctx.config.healthUrl;
  const answer = await getJson(url, HEALTH_TIMEOUT_MS).catch((error: NodeJS.ErrnoException) => ({
    error: error.code ?? error.message,
  }));
  if ('error' in answer)
    return {
      name: 'health',
      ok: false,
      detail: `${supervisor.unit} is active but nothing answers ${url} (${answer.error}): did the service move to another port? Check the port in its unit, or: release-switcher init --health-url URL`,
    };
  return healthVerdict(url, answer, { ...ctx.config, current });
}

/**
 * What doctor makes of an answer of the health URL: healthy as verification judges it (2xx, and what the preset's
 * contract asks of the body: service/health.ts `notStarted`), with the current release's version.
 */
export function healthVerdict(
  url: string,
  answer: { status: number; body: unknown },
  expected: Pick<Config, 'preset' | 'package' | 'healthUrl' | 'versionField'> & { current: string | null },
): CheckResult {
  if (answer.status < 200 || answer.status > 299)
    return { name: 'health', ok: false, detail: `${url} answered ${answer.status}` };
  const unstarted = notStarted(url, answer, startedWhenFor(expected));
  if (unstarted) return { name: 'health', ok: false, detail: unstarted };
  const version = readField(answer.body, expected.versionField);
  if (version !== expected.current)
    return {
      name: 'health',
      ok: false,
      detail: `${url} reports version ${String(version ?? '(none)')}, but current is ${expected.current}`,
    };
  return { name: 'health', ok: true, detail: `${url} answers with ${expected.current}, the current release` };
}

export const SERVICE_CHECKS = [
  unitThroughCurrent,
  drift,
  scopeMismatch,
  linger,
  healthAnswers,
  serviceReadsCurrent,
  bootCheckCanWrite,
];
