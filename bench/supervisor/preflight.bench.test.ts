// The preflight rehearsal on the fixture gateway under a real private systemd --user:
// (a) downtime caused by a broken candidate (goal 0): /health of the live unit polled every 10 ms during a switch to
//     each broken release; the longest gap between two answers, failures, MainPID/NRestarts before and after;
// (b) what the rehearsal adds to a good switch: `switch` 1.0.0 <-> 1.1.0 with the rehearsal and with --no-preflight
//     (the anchor), alternating, BENCH_REPS times each (default 5); medians, spread and the ratio.
//
//   npm run build && npx vitest run --config bench/vitest.config.ts bench/supervisor/preflight.bench.test.ts
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MATRIX } from '../../test/support/fixtures.ts';
import { type ManagedGateway, managedGateway } from '../../test/support/service.ts';
import { describeWhere } from '../../test/support/skip.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../../test/support/systemd.ts';
import { health, median, monoMs, saveResult } from './lib.ts';

const can = canRunUserManager();
const REPS = Number(process.env.BENCH_REPS ?? 5);

describeWhere(can, 'preflight: downtime of a broken candidate, cost for a good one (fixture, systemd --user)', () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  beforeAll(async () => {
    manager = await startUserManager({ name: 'bench-pf' });
    gw = await managedGateway(manager, {
      name: 'rs-bench-pf',
      stableFor: 1,
      verifyTimeout: 5,
      init: ['--preflight', 'server.js --port {port}', '--preflight-for', '1'],
    });
    for (const v of ['1.0.0', '1.1.0', ...Object.values(MATRIX)])
      expect((await gw.rs(['install', `rs-fixture-gateway@${v}`])).exitCode).toBe(0);
    expect((await gw.rs(['switch', '1.0.0'])).json.result.status).toBe('verified');
  }, 300_000);
  afterAll(async () => manager?.stop());

  const service = async () =>
    (await manager.systemctl(['show', gw.unit, '--property=MainPID', '--property=NRestarts'])).stdout
      .trim()
      .split('\n')
      .sort()
      .join(' ');

  it('measures', async () => {
    const broken: Array<Record<string, unknown>> = [];
    for (const behaviour of [
      'crash-on-start',
      'crash-after-3s',
      'wrong-version',
      'never-healthy',
      'exit-78',
    ] as const) {
      // A release that dies 3 s after it is healthy is caught only by a hold longer than that.
      if (behaviour === 'crash-after-3s') await gw.rs(['init', '--preflight-for', '4']);
      const before = await service();
      let stop = false;
      const answers: number[] = [];
      let failures = 0;
      const polling = (async () => {
        while (!stop) {
          const h = await health(gw.port, 500);
          if (h?.status === 200 && h.version === '1.0.0') answers.push(monoMs());
          else failures++;
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      const start = monoMs();
      const r = await gw.rs(['switch', MATRIX[behaviour]]);
      const end = monoMs();
      stop = true;
      await polling;
      if (behaviour === 'crash-after-3s') await gw.rs(['init', '--preflight-for', '1']);
      const times = [start, ...answers.filter((t) => t >= start && t <= end), end];
      const gap = Math.max(...times.slice(1).map((t, i) => t - times[i]!));
      const row = {
        behaviour,
        exitCode: r.exitCode,
        code: r.json?.error?.code,
        wallMs: Math.round(end - start),
        answers: answers.length,
        failures,
        longestGapMs: Math.round(gap),
        serviceUnchanged: before === (await service()),
      };
      broken.push(row);
      console.log(
        `broken ${behaviour.padEnd(15)} exit ${r.exitCode} ${row.code}: switch ${row.wallMs} ms; /health every 10 ms: ${row.answers} answers from 1.0.0, ${failures} failures, longest gap ${row.longestGapMs} ms; MainPID/NRestarts unchanged: ${row.serviceUnchanged}`,
      );
      expect(r.json?.error?.code).toBe('PREFLIGHT_FAILED');
    }

    const wall: Record<'preflight' | 'anchor', number[]> = { preflight: [], anchor: [] };
    const stepMs: number[] = [];
    let target = '1.1.0';
    for (let i = 0; i < REPS * 2; i++) {
      const withPreflight = i % 4 === 0 || i % 4 === 3; // ABBA order: neither case always goes first
      const t = monoMs();
      const r = await gw.rs(['switch', target, ...(withPreflight ? [] : ['--no-preflight'])]);
      const ms = monoMs() - t;
      expect(r.json?.result?.status, r.stdout).toBe('verified');
      wall[withPreflight ? 'preflight' : 'anchor'].push(ms);
      if (withPreflight) stepMs.push(r.json.result.steps.find((s: { name: string }) => s.name === 'preflight').ms);
      target = target === '1.1.0' ? '1.0.0' : '1.1.0';
    }
    const spread = (v: number[]) => `${Math.round(Math.min(...v))}-${Math.round(Math.max(...v))}`;
    const [p, a] = [median(wall.preflight), median(wall.anchor)];
    console.log(
      `good switch (verify + stable 1 s), ${REPS} runs each: with the rehearsal (hold 1 s) median ${Math.round(p)} ms (${spread(wall.preflight)}), --no-preflight ${Math.round(a)} ms (${spread(wall.anchor)}); ratio ${(p / a).toFixed(2)}x; added ${Math.round(p - a)} ms; preflight step median ${median(stepMs)} ms (${spread(stepMs)})`,
    );
    console.log("machine: 2 cores shared with other engineers' test runs; figures are noisy");
    console.log(`saved ${saveResult('preflight-fixture', { broken, wall, stepMs, reps: REPS })}`);
  }, 600_000);
});
