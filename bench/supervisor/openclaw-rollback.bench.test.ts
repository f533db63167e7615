// Rolling a real openclaw gateway back, against a bare restart of the same unit (issue 12's third figure), under a
// private systemd --user: openclaw 2026.9.5 installed with `npm install -g` on Node 24 and running from its own unit
// (test/support/openclaw.ts), adopted (`init --preset openclaw --adopt`, `unit --install`), then 2026.9.6
// installed and switched to by release-switcher. Each repetition, one after the other:
//   - ours: `release-switcher rollback` (2026.9.6 → 2026.9.5), as an operator runs it (the preset's rehearsal and
//     stability window included);
//   - anchor: `systemctl --user restart` of the same unit, now running 2026.9.5, until /startupz answers again;
//   - then `release-switcher switch 2026.9.6` (the way back for the next repetition; its figures are printed too).
// The checkpoint is the preset's default, the whole state directory (~/.openclaw minus residue) and the config file:
// each rollback puts it back while the unit is stopped (the restore-state step), each switch takes one (a bulk copy
// staged while 9.5 serves, reconciled in the stop window). What it covers and its size are printed and asserted.
// A poller asks /startupz every 100 ms throughout: *unavailable* is the longest time without an ok answer while
// the command runs; *command to verified* is the wall time of the CLI (it returns once the target is verified),
// against the anchor's restart + first ok answer. Goals: unavailable ≤ 1.1× the anchor's; command to verified ≤
// the anchor + 2 s. Medians of BENCH_RUNS (default 3) and the spread; load average printed with each run.
//
//   npm run build && npx vitest run --config bench/vitest.config.ts bench/supervisor/openclaw-rollback.bench.test.ts
//
// BENCH_NODE24=<node>, OPENCLAW_PREFIX=<dir> as in openclaw-adopt.bench.test.ts; BENCH_NPM_CACHE=<dir> is the npm
// cache release-switcher installs 2026.9.6 with (default: a fresh one, so ~300 MB are downloaded once);
// BENCH_STABLE_FOR=N sets the preset's stability window (10 s) to N seconds. The state dir is named by its real path
// (OPENCLAW_STATE_DIR): openclaw's state locks are named by a hash of it, and other runs' gateways would own the same.
import { mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli } from '../../test/support/cli.ts';
import { freePort } from '../../test/support/service.ts';
import { describeWhere } from '../../test/support/skip.ts';
import { canRunUserManager, type UserManager } from '../../test/support/systemd.ts';
import { median, medianSpread, ms, outagePoller, ratio, saveResult } from './lib.ts';
import {
  OPENCLAW_UNIT as UNIT,
  openclawBench,
  openclawHealthy,
  removeOpenclawBench,
  seconds,
  writeOpenclawService,
} from '../../test/support/openclaw.ts';

const FROM = '2026.9.5';
const TO = '2026.9.6';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** BENCH_FORWARD_NO_PREFLIGHT=1: the way forward between repetitions skips its rehearsal (not what is measured). */
const FORWARD_REHEARSED = !process.env.BENCH_FORWARD_NO_PREFLIGHT;
const can = canRunUserManager();

describeWhere(can, 'bench: rollback of a real openclaw vs a bare restart (private systemd --user)', () => {
  let um: UserManager;
  let node: string;
  let prefix: string;
  let port: number;
  const work = mkdtempSync(path.join(tmpdir(), 'rs-bench-ocrollback-'));
  const root = path.join(work, 'root');
  // The CA bundle too: the CLI's environment is otherwise the manager's, and the registry may sit behind a TLS proxy.
  const env = () => ({
    ...(um.env as Record<string, string>),
    OPENCLAW_STATE_DIR: path.join(um.env.HOME!, '.openclaw'), // as the unit has it (writeOpenclawService ownStateDir)
    ...(process.env.BENCH_NPM_CACHE ? { npm_config_cache: process.env.BENCH_NPM_CACHE } : {}),
    ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
  });
  const rs = (args: string[], timeout = 900_000) =>
    cli(['--root', root, '--json', ...args], { env: env(), timeout, as: null });
  const mainPid = async () => Number((await um.systemctl(['show', '-p', 'MainPID', '--value', UNIT])).stdout.trim());

  beforeAll(async () => {
    ({ node, prefix, um } = await openclawBench({ name: 'ocrollback', work, version: FROM }));
    port = await freePort();
    await writeOpenclawService(um, { node, prefix, port, ownStateDir: true, compileCache: false });
    expect((await um.systemctl(['start', UNIT])).exitCode).toBe(0);
    await openclawHealthy(um, { port, pid: null, timeoutMs: 300_000 });
    const init = await rs([
      'init',
      '--preset',
      'openclaw',
      '--adopt',
      path.join(prefix, 'lib', 'node_modules', 'openclaw'),
      '--node',
      node,
      '--unit',
      UNIT,
    ]);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    // The whole state dir, not a list of its databases: what the rollback outage is measured with.
    const statePaths = JSON.parse(readFileSync(path.join(root, 'config.json'), 'utf8')).statePaths as string[];
    expect(statePaths[0]).toMatch(/^\$\{OPENCLAW_STATE_DIR:-~\/\.openclaw\}$/);
    console.log(
      `checkpoint covers: ${statePaths.join(', ')}; init says ${JSON.stringify(init.json?.result?.checkpoint)}`,
    );
    expect((await rs(['unit', '--install'])).exitCode).toBe(0);
    // The stability window is a deliberate wait: BENCH_STABLE_FOR=0 measures command to verified without it.
    if (process.env.BENCH_STABLE_FOR)
      expect((await rs(['init', '--stable-for', process.env.BENCH_STABLE_FOR])).exitCode).toBe(0);
    const pid = await mainPid();
    expect((await um.systemctl(['restart', UNIT], { timeoutMs: 400_000 })).exitCode).toBe(0);
    expect((await openclawHealthy(um, { port, pid, timeoutMs: 300_000 })).version).toBe(FROM);
    let started = Date.now();
    const installed = await rs(['install', `openclaw@${TO}`]);
    expect(installed.exitCode, installed.stdout.slice(-2000) + installed.stderr.slice(-2000)).toBe(0);
    console.log(`release-switcher install openclaw@${TO}: ${seconds(Date.now() - started)}`);
    started = Date.now();
    const switched = await rs(['switch', TO]);
    expect(switched.json?.result?.status, switched.stdout + switched.stderr).toBe('verified');
    console.log(`first switch to ${TO}: ${seconds(Date.now() - started)}`);
  }, 2_400_000);

  afterAll(() => removeOpenclawBench(um, work), 120_000);

  /** The size of the checkpoint a restore-state step names (`snapshot <id>`), from its manifest. */
  const checkpointSize = (named: string | undefined) => {
    const id = named && /snapshot (\S+)/.exec(named)?.[1];
    if (!id) return 'checkpoint: ?';
    const manifest = JSON.parse(readFileSync(path.join(root, 'snapshots', id, 'snapshot.json'), 'utf8'));
    return `checkpoint ${id}: ${(manifest.size / 1e6).toFixed(1)} MB, ${manifest.entries.length} paths`;
  };

  /** A transaction's step times, as `name ms` pairs. */
  const steps = (result: { steps?: Array<{ name: string; ms: number }> }) =>
    (result.steps ?? []).map((s) => `${s.name} ${ms(s.ms)}`).join(', ');

  it(`rollback ${TO} → ${FROM} vs systemctl restart of the same unit`, async () => {
    const samples = {
      rollbackUnavailable: [] as number[],
      rollbackWall: [] as number[],
      restartUnavailable: [] as number[],
      restartWall: [] as number[],
      switchUnavailable: [] as number[],
      switchWall: [] as number[],
    };
    for (let run = 1; run <= RUNS; run++) {
      const load = loadavg()[0]!.toFixed(1);
      // ours: the rollback an operator runs
      let poller = outagePoller(port);
      let started = performance.now();
      const back = await rs(['rollback']);
      samples.rollbackWall.push(performance.now() - started);
      let seen = await poller.stop();
      expect(back.json?.result?.status, back.stdout + back.stderr).toBe('verified');
      expect(seen.version).toBe(FROM);
      samples.rollbackUnavailable.push(seen.unavailableMs);
      const restored = back.json.result.steps.find((s: { name: string }) => s.name === 'restore-state');
      expect(restored?.status, JSON.stringify(back.json.result.steps)).toBe('ok');
      console.log(
        `run ${run} (load ${load}): rollback wall ${ms(samples.rollbackWall.at(-1))}, unavailable ${ms(seen.unavailableMs)}; steps: ${steps(back.json.result)}; ${checkpointSize(restored?.detail)}`,
      );

      // anchor: a bare restart of the same unit, now running FROM
      const pid = await mainPid();
      poller = outagePoller(port);
      started = performance.now();
      expect((await um.systemctl(['restart', UNIT], { timeoutMs: 400_000 })).exitCode).toBe(0);
      const healthy = await openclawHealthy(um, { port, pid, timeoutMs: 300_000, pollMs: 100 });
      samples.restartWall.push(performance.now() - started);
      seen = await poller.stop();
      expect(healthy.version).toBe(FROM);
      samples.restartUnavailable.push(seen.unavailableMs);
      console.log(
        `run ${run}: bare restart to healthy ${ms(samples.restartWall.at(-1))}, unavailable ${ms(seen.unavailableMs)}`,
      );

      // the way forward again, for the next repetition
      poller = outagePoller(port);
      started = performance.now();
      const forward = await rs(['switch', TO, ...(FORWARD_REHEARSED ? [] : ['--no-preflight'])]);
      samples.switchWall.push(performance.now() - started);
      seen = await poller.stop();
      expect(forward.json?.result?.status, forward.stdout + forward.stderr).toBe('verified');
      samples.switchUnavailable.push(seen.unavailableMs);
      console.log(
        `run ${run}: switch ${FROM} → ${TO} wall ${ms(samples.switchWall.at(-1))}, unavailable ${ms(seen.unavailableMs)}; steps: ${steps(forward.json.result)}`,
      );
    }
    const m = medianSpread;
    console.log(`\n${RUNS} runs, medians:`);
    console.log(`rollback unavailable   ${m(samples.rollbackUnavailable)}`);
    console.log(`restart unavailable    ${m(samples.restartUnavailable)}`);
    console.log(
      `  ratio ${ratio(median(samples.rollbackUnavailable) / median(samples.restartUnavailable))} (goal ≤ 1.1×)`,
    );
    console.log(`rollback to verified   ${m(samples.rollbackWall)}`);
    console.log(`restart to healthy     ${m(samples.restartWall)}`);
    console.log(`  difference ${ms(median(samples.rollbackWall) - median(samples.restartWall))} (goal ≤ 2000 ms)`);
    console.log(`switch unavailable     ${m(samples.switchUnavailable)}; switch to verified ${m(samples.switchWall)}`);
    console.log(`saved ${saveResult('openclaw-rollback', { runs: RUNS, samples })}`);
  }, 3_600_000);
});
