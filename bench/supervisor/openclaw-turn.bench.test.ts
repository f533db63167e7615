// Update of a real openclaw gateway while a chat turn is in flight (issue 22's second benchmark): the gateway's default
// model is a slow OpenAI-compatible endpoint on loopback (test/support/slow-model.ts, a custom provider), streaming a
// token a second for TURN_SECONDS. Same private systemd --user, same adopted 2026.9.5 as openclaw-finalize.bench.test.ts,
// 2026.9.6 installed beside it. Each repetition, one after the other:
//   - ours: a turn is started on 9.5 (`openclaw agent --agent main --message …`, through the gateway), and once the
//     model has streamed for LEAD_SECONDS, `release-switcher switch 2026.9.6` (restart handoff with a 1 s drain,
//     finalize, start, verify). Measured: how long after the request the old gateway exited (the drain wait), the
//     unavailable time, whether the turn was resumed by 9.6 (a new streamed request for it at the model) and when;
//   - anchor: the same turn on 9.6, then `systemctl --user restart` of the same unit: how long the stop took (OpenClaw's
//     SIGTERM drain: the turn is let finish, up to 315 s), the unavailable time, and how the turn ended;
//   - then `release-switcher rollback` without a turn (the way back for the next repetition).
// A poller asks /startupz every 100 ms: *unavailable* is the longest time without an ok answer. Goal: no drain wait,
// the turn resumed. Medians of BENCH_RUNS (default 2) with the spread; load average with each run.
//
//   npm run build && npx vitest run --config bench/vitest.config.ts bench/supervisor/openclaw-turn.bench.test.ts
//
// BENCH_NODE24, OPENCLAW_PREFIX, BENCH_NPM_CACHE as in openclaw-rollback.bench.test.ts.
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli, cliEnv } from '../../test/support/cli.ts';
import {
  OPENCLAW_UNIT as UNIT,
  REMOVE_TIMEOUT_MS,
  openclawBench,
  openclawHealthy,
  removeOpenclawBench,
  writeOpenclawService,
} from '../../test/support/openclaw.ts';
import { freePort } from '../../test/support/service.ts';
import { describeWhere } from '../../test/support/skip.ts';
import {
  type ModelRequest,
  modelConfig,
  RESUMED_TURN,
  type SlowModel,
  startSlowModel,
} from '../../test/support/slow-model.ts';
import { canRunUserManager, type UserManager } from '../../test/support/systemd.ts';
import { medianSpread, ms, outagePoller, saveResult } from './lib.ts';

const FROM = '2026.9.5';
const TO = '2026.9.6';
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
const TURN_SECONDS = Number(process.env.BENCH_TURN_SECONDS ?? 120);
const LEAD_SECONDS = 10;
const can = canRunUserManager();

describeWhere(
  can,
  'bench: update with a chat turn in flight, handoff vs systemctl restart (private systemd --user)',
  () => {
    let um: UserManager;
    let port: number;
    let model: SlowModel;
    const work = mkdtempSync(path.join(tmpdir(), 'rs-bench-octurn-'));
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

    /** A user's message through the gateway (the root's `openclaw`); resolves once the model has streamed LEAD_SECONDS. */
    async function startTurn(label: string): Promise<{ request: ModelRequest; marker: string; stop: () => void }> {
      const marker = `RS-BENCH-TURN-${label}`;
      const client = execa(path.join(root, 'bin', 'openclaw'), ['agent', '--agent', 'main', '--message', marker], {
        env: cliEnv(env()), // not the worker's: with VITEST set, openclaw's CLI exits 0 at once and does nothing
        extendEnv: false,
        reject: false,
        timeout: 1_800_000,
      });
      const request = await model.waitFor((r) => r.stream && r.text.includes(marker), 300_000);
      while (request.tokensSent < LEAD_SECONDS && !request.ended) await new Promise((r) => setTimeout(r, 200));
      return { request, marker, stop: () => client.kill() };
    }
    /** The turn's next streamed request after it was cut: OpenClaw's restart recovery resuming it. */
    const resumedAfter = (turn: { request: ModelRequest; marker: string }) =>
      model.waitFor(
        (r) =>
          r.stream &&
          r.at > (turn.request.endedAt ?? Number.POSITIVE_INFINITY) &&
          r.text.includes(turn.marker) &&
          RESUMED_TURN.test(r.text),
        300_000,
      );

    beforeAll(async () => {
      const bench = await openclawBench({ name: 'octurn', work, version: FROM });
      um = bench.um;
      port = await freePort();
      model = await startSlowModel({ tokens: TURN_SECONDS, intervalMs: 1000, model: 'slow-1' });
      await writeOpenclawService(um, {
        node: bench.node,
        prefix: bench.prefix,
        port,
        compileCache: false, // the default install's starts (test/support/openclaw.ts)
        ownStateDir: true,
        config: modelConfig(model, 'slow-1'),
      });
      expect((await um.systemctl(['start', UNIT])).exitCode).toBe(0);
      await openclawHealthy(um, { port, pid: null, timeoutMs: 300_000 });
      const openclaw = path.join(bench.prefix, 'lib', 'node_modules', 'openclaw');
      const init = await rs([
        'init',
        '--preset',
        'openclaw',
        '--adopt',
        openclaw,
        '--node',
        bench.node,
        '--unit',
        UNIT,
      ]);
      expect(init.exitCode, init.stdout + init.stderr).toBe(0);
      expect((await rs(['unit', '--install'])).exitCode).toBe(0);
      const pid = await mainPid();
      expect((await um.systemctl(['restart', UNIT], { timeoutMs: 400_000 })).exitCode).toBe(0);
      expect((await openclawHealthy(um, { port, pid, timeoutMs: 300_000 })).version).toBe(FROM);
      const installed = await rs(['install', `openclaw@${TO}`]);
      expect(installed.exitCode, installed.stdout.slice(-2000) + installed.stderr.slice(-2000)).toBe(0);
    }, 2_400_000);

    afterAll(async () => {
      await model?.close();
      await removeOpenclawBench(um, work);
    }, REMOVE_TIMEOUT_MS);

    it(`update ${FROM} → ${TO} with a turn in flight vs systemctl restart of ${TO} with one`, async () => {
      const samples = {
        updateExitAfterRequest: [] as number[],
        updateUnavailable: [] as number[],
        updateResumedAfterCut: [] as number[],
        updateTurnAnswered: [] as number[],
        restartStop: [] as number[],
        restartUnavailable: [] as number[],
        restartTurnAnswered: [] as number[],
        resumed: [] as boolean[],
        restartTurnEnded: [] as string[],
      };
      for (let run = 1; run <= RUNS; run++) {
        // Ours: the handoff with its bounded drain; the turn is cut, and 9.6 resumes it.
        let load = loadavg()[0]!.toFixed(1);
        let turn = await startTurn(`update-${run}`);
        let poller = outagePoller(port);
        const updated = await rs(['switch', TO]);
        let seen = await poller.stop();
        expect(updated.json?.result?.status, updated.stdout + updated.stderr).toBe('verified');
        expect(seen.version).toBe(TO);
        const handoff = updated.json.result.steps.find((s: { name: string }) => s.name === 'restart-handoff');
        samples.updateExitAfterRequest.push(handoff?.evidence?.exitedAfterMs ?? Number.NaN);
        samples.updateUnavailable.push(seen.unavailableMs);
        const resumed = await resumedAfter(turn).catch(() => undefined);
        samples.resumed.push(resumed !== undefined);
        if (resumed) {
          samples.updateResumedAfterCut.push(resumed.at - turn.request.endedAt!);
          await model.waitFor((r) => r === resumed && r.ended !== undefined, TURN_SECONDS * 1000 + 300_000);
          samples.updateTurnAnswered.push(resumed.endedAt! - turn.request.at);
        }
        turn.stop();
        console.log(
          `run ${run} (load ${load}): update: the old gateway exited ${ms(handoff?.evidence?.exitedAfterMs)} after the request (handoff ${handoff?.evidence?.accepted ? 'accepted' : 'not accepted'}), unavailable ${ms(seen.unavailableMs)}; the turn was ${turn.request.ended} after ${turn.request.tokensSent} tokens, ${resumed ? `resumed ${ms(resumed.at - turn.request.endedAt!)} after the cut and answered ${ms(resumed.endedAt! - turn.request.at)} after it began` : 'NOT resumed'}`,
        );

        // Anchor: systemctl restart of the same unit, now 9.6, with the same turn in flight.
        load = loadavg()[0]!.toFixed(1);
        turn = await startTurn(`restart-${run}`);
        const pid = await mainPid();
        poller = outagePoller(port);
        const started = performance.now();
        expect((await um.systemctl(['restart', UNIT], { timeoutMs: 400_000 })).exitCode).toBe(0);
        samples.restartStop.push(performance.now() - started);
        expect((await openclawHealthy(um, { port, pid, timeoutMs: 300_000, pollMs: 100 })).version).toBe(TO);
        seen = await poller.stop();
        samples.restartUnavailable.push(seen.unavailableMs);
        samples.restartTurnEnded.push(turn.request.ended ?? 'running');
        if (turn.request.ended === 'done') samples.restartTurnAnswered.push(turn.request.endedAt! - turn.request.at);
        turn.stop();
        console.log(
          `run ${run} (load ${load}): systemctl restart of ${TO}: the stop took ${ms(samples.restartStop.at(-1))} (the drain), unavailable ${ms(seen.unavailableMs)}; the turn ${turn.request.ended === 'done' ? `finished during the drain, answered ${ms(turn.request.endedAt! - turn.request.at)} after it began` : `was ${turn.request.ended ?? 'still running'} after ${turn.request.tokensSent} tokens`}`,
        );

        const back = await rs(['rollback']);
        expect(back.json?.result?.status, back.stdout + back.stderr).toBe('verified');
      }
      const m = medianSpread;
      console.log(
        `\n${RUNS} runs, a ${TURN_SECONDS} s turn in flight for ${LEAD_SECONDS} s when the restart was asked; medians:`,
      );
      console.log(
        `update (handoff): old gateway gone ${m(samples.updateExitAfterRequest)} after the request; unavailable ${m(samples.updateUnavailable)}`,
      );
      console.log(
        `  turn resumed ${samples.resumed.filter(Boolean).length}/${RUNS}, ${m(samples.updateResumedAfterCut)} after the cut; answered ${m(samples.updateTurnAnswered)} after it began`,
      );
      console.log(
        `systemctl restart: the stop took ${m(samples.restartStop)}; unavailable ${m(samples.restartUnavailable)}; turns ${samples.restartTurnEnded.join(', ')}; answered ${m(samples.restartTurnAnswered)} after it began`,
      );
      console.log(`saved ${saveResult('openclaw-turn', { runs: RUNS, turnSeconds: TURN_SECONDS, samples })}`);
      expect(samples.resumed.every(Boolean)).toBe(true);
    }, 7_200_000);
  },
);
