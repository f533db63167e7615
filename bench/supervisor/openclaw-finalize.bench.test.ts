// Update outage of a real openclaw gateway with OpenClaw's post-core step inside the transaction (issue 22's first
// benchmark), against a bare restart of the new release, same run, under a private systemd --user: openclaw 2026.9.5
// installed with `npm install -g` on Node 24, adopted (`init --preset openclaw --adopt`, `unit --install`), one external
// plugin installed the way users install it (`openclaw plugins install @openclaw/matrix`: 2026.9.5, from the registry),
// 2026.9.6 installed beside it. Each repetition, one after the other:
//   - ours: `release-switcher switch 2026.9.6` (the plugin packages fetched, the restart handoff, the stop, the
//     checkpoint, `update finalize` converging the plugin to 9.6, the start, verify; the preset's rehearsal and the
//     fetch before the stop do not count toward the outage but are in the wall time);
//   - anchor: `systemctl --user restart` of the same unit, now running 2026.9.6, until /startupz answers again;
//   - then `release-switcher rollback` (the way back for the next repetition; its figures are printed too).
// A poller asks /startupz every 100 ms: *unavailable* is the longest time without an ok answer. Goal: the update's
// unavailable ≤ 1.2× the anchor's. Medians of BENCH_RUNS (default 3) with the spread; load average with each run.
//
//   npm run build && npx vitest run --config bench/vitest.config.ts bench/supervisor/openclaw-finalize.bench.test.ts
//
// BENCH_NODE24, OPENCLAW_PREFIX, BENCH_NPM_CACHE as in openclaw-rollback.bench.test.ts.
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli, cliEnv } from '../../test/support/cli.ts';
import { freePort } from '../../test/support/service.ts';
import { describeWhere } from '../../test/support/skip.ts';
import { canRunUserManager, type UserManager } from '../../test/support/systemd.ts';
import { median, medianSpread, ms, outagePoller, ratio, saveResult, stepsText, type TxStep } from './lib.ts';
import {
  OPENCLAW_UNIT as UNIT,
  REMOVE_TIMEOUT_MS,
  openclawBench,
  openclawHealthy,
  removeOpenclawBench,
  writeOpenclawService,
} from '../../test/support/openclaw.ts';

const FROM = '2026.9.5';
const TO = '2026.9.6';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PLUGIN = '@openclaw/matrix';
const can = canRunUserManager();

describeWhere(can, 'bench: update with finalize of a real openclaw vs a bare restart (private systemd --user)', () => {
  let um: UserManager;
  let port: number;
  const work = mkdtempSync(path.join(tmpdir(), 'rs-bench-ocfinalize-'));
  const root = path.join(work, 'root');
  const env = () => ({
    ...(um.env as Record<string, string>),
    OPENCLAW_STATE_DIR: path.join(um.env.HOME!, '.openclaw'), // as the unit has it (writeOpenclawService ownStateDir)
    ...(process.env.BENCH_NPM_CACHE ? { npm_config_cache: process.env.BENCH_NPM_CACHE } : {}),
    ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
  });
  const rs = (args: string[], timeout = 1_800_000) =>
    cli(['--root', root, '--json', ...args], { env: env(), timeout, as: null });
  const mainPid = async () => Number((await um.systemctl(['show', '-p', 'MainPID', '--value', UNIT])).stdout.trim());

  beforeAll(async () => {
    const bench = await openclawBench({ name: 'ocfinalize', work, version: FROM });
    um = bench.um;
    port = await freePort();
    await writeOpenclawService(um, {
      node: bench.node,
      prefix: bench.prefix,
      port,
      compileCache: false, // the default install's starts (test/support/openclaw.ts)
      ownStateDir: true,
    });
    expect((await um.systemctl(['start', UNIT])).exitCode).toBe(0);
    await openclawHealthy(um, { port, pid: null, timeoutMs: 300_000 });
    const openclaw = path.join(bench.prefix, 'lib', 'node_modules', 'openclaw');
    const init = await rs(['init', '--preset', 'openclaw', '--adopt', openclaw, '--node', bench.node, '--unit', UNIT]);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    expect((await rs(['unit', '--install'])).exitCode).toBe(0);
    const pid = await mainPid();
    expect((await um.systemctl(['restart', UNIT], { timeoutMs: 400_000 })).exitCode).toBe(0);
    expect((await openclawHealthy(um, { port, pid, timeoutMs: 300_000 })).version).toBe(FROM);
    const plugin = await execa(path.join(root, 'bin', 'openclaw'), ['plugins', 'install', PLUGIN], {
      env: cliEnv(env()), // not the worker's: with VITEST set, openclaw's CLI exits 0 at once and does nothing
      extendEnv: false,
      reject: false,
      timeout: 900_000,
    });
    expect(plugin.exitCode, plugin.stdout.slice(-2000) + plugin.stderr.slice(-2000)).toBe(0);
    const installed = await rs(['install', `openclaw@${TO}`]);
    expect(installed.exitCode, installed.stdout.slice(-2000) + installed.stderr.slice(-2000)).toBe(0);
  }, 2_400_000);

  afterAll(() => removeOpenclawBench(um, work), REMOVE_TIMEOUT_MS);

  it(`update ${FROM} → ${TO} with finalize vs systemctl restart of ${TO}`, async () => {
    const samples = {
      updateUnavailable: [] as number[],
      updateWall: [] as number[],
      finalizeMs: [] as number[],
      pluginsPhaseMs: [] as number[],
      prefetchMs: [] as number[],
      restartUnavailable: [] as number[],
      rollbackUnavailable: [] as number[],
    };
    for (let run = 1; run <= RUNS; run++) {
      const load = loadavg()[0]!.toFixed(1);
      let poller = outagePoller(port);
      let started = performance.now();
      const updated = await rs(['switch', TO]);
      samples.updateWall.push(performance.now() - started);
      let seen = await poller.stop();
      expect(updated.json?.result?.status, updated.stdout + updated.stderr).toBe('verified');
      expect(seen.version).toBe(TO);
      samples.updateUnavailable.push(seen.unavailableMs);
      const finalize: TxStep | undefined = updated.json.result.steps.find((s: TxStep) => s.name === 'finalize');
      samples.finalizeMs.push(finalize?.ms ?? Number.NaN);
      samples.pluginsPhaseMs.push(
        finalize?.evidence?.verdict?.phases?.find((p) => p.phase === 'plugins')?.durationMs ?? Number.NaN,
      );
      samples.prefetchMs.push(finalize?.evidence?.prefetch?.ms ?? Number.NaN);
      console.log(
        `run ${run}: prefetch ${JSON.stringify(finalize?.evidence?.prefetch)}; plugins ${JSON.stringify(finalize?.evidence?.verdict?.plugins?.npm)}`,
      );
      console.log(
        `run ${run} (load ${load}): update wall ${ms(samples.updateWall.at(-1))}, unavailable ${ms(seen.unavailableMs)}; steps: ${stepsText(updated.json.result)}`,
      );

      const pid = await mainPid();
      poller = outagePoller(port);
      expect((await um.systemctl(['restart', UNIT], { timeoutMs: 400_000 })).exitCode).toBe(0);
      expect((await openclawHealthy(um, { port, pid, timeoutMs: 300_000, pollMs: 100 })).version).toBe(TO);
      seen = await poller.stop();
      samples.restartUnavailable.push(seen.unavailableMs);
      console.log(
        `run ${run} (load ${loadavg()[0]!.toFixed(1)}): bare restart of ${TO}, unavailable ${ms(seen.unavailableMs)}`,
      );

      poller = outagePoller(port);
      started = performance.now();
      const back = await rs(['rollback']);
      seen = await poller.stop();
      expect(back.json?.result?.status, back.stdout + back.stderr).toBe('verified');
      samples.rollbackUnavailable.push(seen.unavailableMs);
      console.log(`run ${run}: rollback unavailable ${ms(seen.unavailableMs)}; steps: ${stepsText(back.json.result)}`);
    }
    const m = medianSpread;
    console.log(`\n${RUNS} runs, medians:`);
    console.log(`update unavailable     ${m(samples.updateUnavailable)} (finalize step ${m(samples.finalizeMs)})`);
    console.log(
      `  finalize's plugins phase ${m(samples.pluginsPhaseMs)}; fetched before the stop in ${m(samples.prefetchMs)}`,
    );
    console.log(`restart unavailable    ${m(samples.restartUnavailable)}`);
    console.log(
      `  ratio ${ratio(median(samples.updateUnavailable) / median(samples.restartUnavailable))} (goal ≤ 1.2×)`,
    );
    console.log(
      `update to verified     ${m(samples.updateWall)}; rollback unavailable ${m(samples.rollbackUnavailable)}`,
    );
    console.log(`saved ${saveResult('openclaw-finalize', { runs: RUNS, samples })}`);
  }, 5_400_000);
});
