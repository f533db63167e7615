// Benchmark: failed requests while updating a fixture gateway under load, every request hitting GET /chunk (a lazy
// import of a content-hashed chunk, as openclaw's dist/ does), under a real private systemd --user.
import { describeWhere } from '../../test/support/skip.ts';
//   (A) anchor: `npm install -g --prefix P rs-fixture-gateway@1.1.0` over a running 1.0.0 (started by a unit from
//       P/lib/node_modules/rs-fixture-gateway/server.js), then `systemctl --user restart`.
//   (B) ours: `release-switcher switch 1.1.0` (installed beforehand) on a unit running <root>/current/server.js.
// Load runs from the moment the new files are in place (A: npm finished; B: 1.1.0 installed), for HOLD_MS before
// the restart / switch, through it, and AFTER_MS past the new version's first answer. The old process has never
// imported its chunk before the load starts (only /health was asked), so A's failure mode (the chunk was deleted
// under it: ERR_MODULE_NOT_FOUND) is actually exercised. Goal: 0 module errors for release-switcher, connection
// refusals only inside the restart window.
//
//   npx vitest run --config bench/vitest.config.ts bench/supervisor/load-update.bench.test.ts
//
// BENCH_REPS (default 3) repetitions, alternating which case goes first.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { npm } from '../../test/support/registry.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../../test/support/systemd.ts';
import { freePort, type ManagedGateway, managedGateway } from '../../test/support/service.ts';
import {
  firstHealthy,
  type LoadEvent,
  monoMs,
  type OutcomeSummary,
  plainUnit,
  saveResult,
  startLoad,
  summarize,
  unitTimes,
  type Window,
  WINDOW_SLACK_MS,
} from './lib.ts';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const HOLD_MS = 2000;
const AFTER_MS = 2000;
const LOAD = { path: '/chunk', clients: 4, intervalMs: 20, timeoutMs: 1000, maxRequests: 3000 };
const STABLE_FOR = 1;
const NPM_UNIT = 'rs-bench-npm.service';
const PKG = 'rs-fixture-gateway';

const can = canRunUserManager();

interface CaseResult {
  label: string;
  /** What happened before the load started (npm install time, whether the old chunk survived). */
  setup: Record<string, unknown>;
  /** Times relative to the window's start (systemd: the old process was told to stop). */
  marks: Record<string, number>;
  window: { start: 0; end: number };
  total: number;
  outcomes: Record<string, OutcomeSummary>;
  failed: number;
  moduleErrors: number;
  refusedOutsideWindow: number;
}

function analyse(
  label: string,
  events: LoadEvent[],
  window: Window,
  marks: Record<string, number>,
  setup: Record<string, unknown>,
): CaseResult {
  const outcomes = summarize(events, window);
  const rel = Object.fromEntries(Object.entries(marks).map(([k, v]) => [k, Math.round(v - window.start)]));
  const failed = events.filter((e) => e.outcome !== 'ok').length;
  return {
    label,
    setup,
    marks: rel,
    window: { start: 0, end: Math.round(window.end - window.start) },
    total: events.length,
    outcomes,
    failed,
    moduleErrors: outcomes.module_error?.count ?? 0,
    refusedOutsideWindow: (outcomes.refused?.beforeWindow ?? 0) + (outcomes.refused?.afterWindow ?? 0),
  };
}

/** Waits (while the load runs) for its first ok answer from `version`; returns that event's completion time. */
async function firstOkFrom(events: LoadEvent[], version: string, timeoutMs = 30_000): Promise<number> {
  const deadline = monoMs() + timeoutMs;
  for (;;) {
    const hit = events.find((e) => e.outcome === 'ok' && e.detail === version);
    if (hit) return hit.done;
    if (monoMs() > deadline) throw new Error(`no ok answer from ${version} within ${timeoutMs} ms`);
    await delay(10);
  }
}

/** First and last part of an error text: the path of the missing chunk sits in the middle of a long line. */
function abbreviate(text: string, keep = 70): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= 2 * keep ? flat : `${flat.slice(0, keep)}…${flat.slice(-keep)}`;
}

function report(r: CaseResult): string {
  const rows = Object.entries(r.outcomes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([k, s]) =>
        `      ${k.padEnd(16)} ${String(s.count).padStart(5)}   before/in/after window ${s.beforeWindow}/${s.inWindow}/${s.afterWindow}   at ${s.firstAt}..${s.lastAt} ms${s.sample ? `   e.g. ${abbreviate(s.sample)}` : ''}`,
    );
  const marks = Object.entries(r.marks)
    .map(([k, v]) => `${k} ${v >= 0 ? '+' : ''}${v}`)
    .join(', ');
  return [
    `  ${r.label}`,
    `    setup: ${Object.entries(r.setup)
      .map(([k, v]) => `${k} ${String(v)}`)
      .join(', ')}`,
    `    restart window [0, ${r.window.end}] ms = old process told to stop (systemd ActiveExitTimestamp, −${WINDOW_SLACK_MS} ms slack) .. first ok from the new version; marks (ms): ${marks}`,
    `    ${r.total} requests; failed ${r.failed}; module errors ${r.moduleErrors}; refusals outside the window ${r.refusedOutsideWindow}`,
    ...rows,
  ].join('\n');
}

describeWhere(can, 'bench: requests failed while updating under load', () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  let prefix: string;
  let npmPort: number;
  const registry = inject('registryUrl');
  const chunkOf = (version: string) =>
    inject('fixtures').packages.find((p) => p.name === PKG && p.version === version)?.chunk ?? '?';
  const packageDir = () => join(prefix, 'lib', 'node_modules', PKG);
  const npmGlobal = async (version: string) => {
    const t0 = monoMs();
    await npm(['install', '-g', '--prefix', prefix, `${PKG}@${version}`], { registry, timeout: 120_000 });
    return monoMs() - t0;
  };

  beforeAll(async () => {
    manager = await startUserManager({ name: 'bench-load' });
    // (A): a plain unit running the npm-installed package in place.
    prefix = mkdtempSync(join(tmpdir(), 'rs-bench-npm-prefix-'));
    await npmGlobal('1.0.0');
    npmPort = await freePort();
    await manager.writeUnit(
      NPM_UNIT,
      plainUnit({
        description: 'fixture gateway, npm -g in place',
        script: join(packageDir(), 'server.js'),
        port: npmPort,
        log: join(manager.root, 'npm-unit.log'),
        workingDirectory: prefix,
      }),
    );
    expect((await manager.systemctl(['start', NPM_UNIT])).exitCode).toBe(0);
    await firstHealthy(npmPort, { version: '1.0.0', pollMs: 20 });
    // (B): a release root with both releases installed, 1.0.0 current and verified (verify asks /health only).
    gw = await managedGateway(manager, { name: 'rs-bench-load', verifyTimeout: 15, stableFor: STABLE_FOR });
    for (const version of ['1.0.0', '1.1.0']) {
      const r = await gw.rs(['install', `${PKG}@${version}`]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    }
    const r = await gw.rs(['switch', '1.0.0']);
    expect(r.json?.result?.status, r.stdout + r.stderr).toBe('verified');
  }, 300_000);
  afterAll(async () => {
    await manager?.stop();
    // The harness's temp dirs are removed on process 'exit', which a vitest fork worker does not always reach.
    for (const dir of [prefix, gw && dirname(gw.root)]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** (A) Running 1.0.0 that has not imported its chunk yet; npm replaces the package; load; restart; load. */
  async function npmInPlace(): Promise<CaseResult> {
    const npmMs = await npmGlobal('1.1.0');
    const oldChunk = chunkOf('1.0.0');
    const setup = {
      'npm install -g 1.0.0 -> 1.1.0 in place (ms)': Math.round(npmMs),
      [`old ${oldChunk} still on disk`]: existsSync(join(packageDir(), oldChunk)),
      'old process still answers /health as': await firstHealthy(npmPort, {
        version: '1.0.0',
        pollMs: 20,
        timeoutMs: 2000,
      }).then(
        () => '1.0.0',
        () => 'not 1.0.0',
      ),
    };
    const load = startLoad({ port: npmPort, ...LOAD });
    const loadStart = monoMs();
    await delay(HOLD_MS);
    const restartIssued = monoMs();
    const restart = await manager.systemctl(['restart', NPM_UNIT]);
    const restartReturned = monoMs();
    expect(restart.exitCode, restart.stderr).toBe(0);
    const firstNew = await firstOkFrom(load.events, '1.1.0');
    await delay(AFTER_MS);
    const events = await load.stop();
    const unit = await unitTimes(manager, NPM_UNIT);
    const window = { start: unit.activeExit, end: firstNew };
    const marks = {
      'load started': loadStart,
      'systemctl restart issued': restartIssued,
      'new process forked': unit.execMainStart,
      'systemctl restart returned': restartReturned,
      'first ok 1.1.0': firstNew,
      'load stopped': events.reduce((m, e) => Math.max(m, e.done), 0),
    };
    return analyse('(A) anchor: npm install -g in place, then systemctl --user restart', events, window, marks, setup);
  }

  /** Back to a running 1.0.0 that has not imported its chunk: npm 1.0.0 in place, restart. */
  async function resetNpm(): Promise<void> {
    await npmGlobal('1.0.0');
    expect((await manager.systemctl(['restart', NPM_UNIT])).exitCode).toBe(0);
    await firstHealthy(npmPort, { version: '1.0.0', pollMs: 20 });
  }

  /** (B) Running <root>/current = 1.0.0, 1.1.0 installed beside it; load; `release-switcher switch 1.1.0`; load. */
  async function releaseSwitcher(): Promise<CaseResult> {
    const setup = {
      'releases installed': '1.0.0, 1.1.0',
      [`1.0.0's ${chunkOf('1.0.0')} on disk`]: existsSync(join(gw.root, 'releases', '1.0.0', chunkOf('1.0.0'))),
      'stable-for (s)': STABLE_FOR,
    };
    const load = startLoad({ port: gw.port, ...LOAD });
    const loadStart = monoMs();
    await delay(HOLD_MS);
    const switchIssued = monoMs();
    const r = await gw.rs(['switch', '1.1.0']);
    const switchReturned = monoMs();
    expect(r.json?.result?.status, r.stdout + r.stderr).toBe('verified');
    const firstNew = await firstOkFrom(load.events, '1.1.0');
    await delay(AFTER_MS);
    const events = await load.stop();
    const unit = await unitTimes(manager, gw.unit);
    const window = { start: unit.activeExit, end: firstNew };
    const steps = Object.fromEntries(r.json.result.steps.map((s: { name: string; ms: number }) => [s.name, s.ms]));
    Object.assign(setup, { 'switch steps (ms)': JSON.stringify(steps) });
    const marks = {
      'load started': loadStart,
      'switch issued': switchIssued,
      'new process forked': unit.execMainStart,
      'first ok 1.1.0': firstNew,
      'switch returned': switchReturned,
      'load stopped': events.reduce((m, e) => Math.max(m, e.done), 0),
    };
    return analyse('(B) ours: release-switcher switch 1.1.0 (flip, restart, verify)', events, window, marks, setup);
  }

  async function resetOurs(): Promise<void> {
    const r = await gw.rs(['switch', '1.0.0']);
    expect(r.json?.result?.status, r.stdout + r.stderr).toBe('verified');
  }

  it(`${REPS} repetitions, alternating which case goes first`, async () => {
    const anchors: CaseResult[] = [];
    const ours: CaseResult[] = [];
    const lines: string[] = [
      '',
      `load-update bench: ${REPS} repetitions under a private systemd --user; fixture ${PKG} 1.0.0 -> 1.1.0`,
      `load: ${LOAD.clients} clients on loopback, each GET ${LOAD.path} then ${LOAD.intervalMs} ms pause, fetch timeout ${LOAD.timeoutMs} ms; from when the new files are in place,`,
      `      ${HOLD_MS} ms before the restart/switch, through it, until ${AFTER_MS} ms after the new version's first ok. Old process never imported its chunk before.`,
    ];
    for (let rep = 0; rep < REPS; rep++) {
      const order = rep % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const);
      for (const which of order) {
        if (which === 'A') {
          const result = await npmInPlace();
          anchors.push(result);
          await resetNpm();
        } else {
          const result = await releaseSwitcher();
          ours.push(result);
          await resetOurs();
        }
      }
      lines.push('', `repetition ${rep + 1}:`, report(anchors.at(-1)!), report(ours.at(-1)!));
    }
    const sum = (rs: CaseResult[], f: (r: CaseResult) => number) => rs.reduce((n, r) => n + f(r), 0);
    const totals = {
      anchor: {
        requests: sum(anchors, (r) => r.total),
        failed: sum(anchors, (r) => r.failed),
        moduleErrors: sum(anchors, (r) => r.moduleErrors),
        refused: sum(anchors, (r) => r.outcomes.refused?.count ?? 0),
        refusedOutsideWindow: sum(anchors, (r) => r.refusedOutsideWindow),
        windowMs: anchors.map((r) => r.window.end),
      },
      ours: {
        requests: sum(ours, (r) => r.total),
        failed: sum(ours, (r) => r.failed),
        moduleErrors: sum(ours, (r) => r.moduleErrors),
        refused: sum(ours, (r) => r.outcomes.refused?.count ?? 0),
        refusedOutsideWindow: sum(ours, (r) => r.refusedOutsideWindow),
        windowMs: ours.map((r) => r.window.end),
      },
    };
    const failedRatio = totals.ours.failed / totals.anchor.failed;
    const goalMet = totals.ours.moduleErrors === 0 && totals.ours.refusedOutsideWindow === 0;
    lines.push(
      '',
      `totals over ${REPS} repetitions          anchor (npm -g in place)   ours (release-switcher)`,
      `  requests                            ${String(totals.anchor.requests).padStart(8)}                 ${String(totals.ours.requests).padStart(8)}`,
      `  failed (anything not 200)           ${String(totals.anchor.failed).padStart(8)}                 ${String(totals.ours.failed).padStart(8)}`,
      `  HTTP 500 module-not-found           ${String(totals.anchor.moduleErrors).padStart(8)}                 ${String(totals.ours.moduleErrors).padStart(8)}`,
      `  connection refused                  ${String(totals.anchor.refused).padStart(8)}                 ${String(totals.ours.refused).padStart(8)}`,
      `  refused outside the restart window  ${String(totals.anchor.refusedOutsideWindow).padStart(8)}                 ${String(totals.ours.refusedOutsideWindow).padStart(8)}`,
      `  restart windows (ms)                ${totals.anchor.windowMs.join(', ').padStart(8)}                 ${totals.ours.windowMs.join(', ')}`,
      `  failed requests ours / anchor: ${Number.isFinite(failedRatio) ? failedRatio.toFixed(3) : 'n/a'} (${totals.ours.failed} / ${totals.anchor.failed})`,
      `  goal (0 module errors for release-switcher, refusals only inside the restart window): ${goalMet ? 'met' : 'NOT met'}`,
    );
    const file = saveResult('load-update-systemd', {
      reps: REPS,
      holdMs: HOLD_MS,
      afterMs: AFTER_MS,
      load: LOAD,
      stableForSeconds: STABLE_FOR,
      totals,
      failedRatio,
      goalMet,
      anchors,
      ours,
    });
    console.log([...lines, '', `saved ${file}`].join('\n'));
  });
});
