// Benchmark: `release-switcher rollback` (flip, restart, verified) under a real private systemd --user, against the
// anchor a user has without it: `systemctl --user restart <unit>` then polling /health until the first 200.
// Same run, alternating, medians. Goal (issue 12): time to verified-healthy ≤ 1.3× the anchor.
//
//   npx vitest run --config bench/vitest.config.ts bench/supervisor/rollback.bench.test.ts
//
// BENCH_REPS (default 7) sets the repetitions; BENCH_STABLE_FOR (default 0) the stability window in seconds, a
// deliberate wait that only the total wall time includes.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { describeWhere } from '../../test/support/skip.ts';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { canRunUserManager, startUserManager, type UserManager } from '../../test/support/systemd.ts';
import { freePort, type ManagedGateway, managedGateway } from '../../test/support/service.ts';
import { firstHealthy, goal, median, monoMs, ms, plainUnit, ratio, saveResult, unitTimes } from './lib.ts';

const REPS = Number(process.env.BENCH_REPS ?? 7);
const STABLE_FOR = Number(process.env.BENCH_STABLE_FOR ?? 0);
/** How often the anchors (and our outside observer) poll /health. release-switcher's own verify polls every 20 ms in its first second, then every 250 ms. */
const POLL_MS = 10;
const GOAL = 1.3;
const PLAIN = 'rs-bench-plain.service';

const can = canRunUserManager();

interface OursRun {
  to: string;
  /** flip + restart step ms + the verify step's healthyAfterMs: the transaction's time to verified-healthy. */
  toHealthy: number;
  /** The same plus verify-release (re-hashing the sealed release before the flip). */
  toHealthyWithRehash: number;
  /** From spawning the CLI until our own 10 ms poll saw the target version healthy. */
  seenHealthy: number;
  /** The whole command, CLI start-up to exit. */
  wall: number;
  steps: Record<string, number>;
  healthyAfterMs: number;
  probes: number;
}

interface AnchorRun {
  /** `systemctl --user restart` alone. */
  restart: number;
  /** restart + polling until the first 200. */
  toHealthy: number;
  pidChanged: boolean;
}

describeWhere(can, 'bench: rollback vs systemctl restart', () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  let plainPort: number;
  let current = '1.1.0';

  beforeAll(async () => {
    manager = await startUserManager({ name: 'bench-rb' });
    gw = await managedGateway(manager, { name: 'rs-bench-rb', verifyTimeout: 15, stableFor: STABLE_FOR });
    for (const version of ['1.0.0', '1.1.0']) {
      const r = await gw.rs(['install', `rs-fixture-gateway@${version}`]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    }
    for (const version of ['1.0.0', '1.1.0']) {
      const r = await gw.rs(['switch', version]);
      expect(r.json?.result?.status, r.stdout + r.stderr).toBe('verified');
    }
    // The plain anchor runs the very same sealed fixture files, with no ExecStartPre (no boot-check).
    plainPort = await freePort();
    const release = join(gw.root, 'releases', '1.0.0');
    await manager.writeUnit(
      PLAIN,
      plainUnit({
        description: 'fixture gateway, plain unit',
        script: join(release, 'server.js'),
        port: plainPort,
        log: join(gw.root, '..', 'plain.log'),
        workingDirectory: release,
      }),
    );
    expect((await manager.systemctl(['start', PLAIN])).exitCode).toBe(0);
    await firstHealthy(plainPort, { pollMs: POLL_MS });
  }, 300_000);
  afterAll(async () => {
    await manager?.stop();
    // The harness's temp dir is removed on process 'exit', which a vitest fork worker does not always reach.
    // Installed releases carry the immutable attribute where root may set it: clear it first (as tempDir does).
    if (gw) {
      spawnSync('chattr', ['-R', '-f', '-i', dirname(gw.root)]);
      rmSync(dirname(gw.root), { recursive: true, force: true });
    }
  });

  async function ours(): Promise<OursRun> {
    const to = current === '1.1.0' ? '1.0.0' : '1.1.0';
    const t0 = monoMs();
    let done = false;
    const seen = firstHealthy(gw.port, { version: to, pollMs: POLL_MS, timeoutMs: 60_000, stop: () => done });
    const r = await gw.rs(['rollback']);
    const wall = monoMs() - t0;
    done = true;
    const seenAt = await seen;
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toMatchObject({ kind: 'rollback', status: 'verified', to });
    current = to;
    const steps: Record<string, number> = Object.fromEntries(
      r.json.result.steps.map((s: { name: string; ms: number }) => [s.name, s.ms]),
    );
    const verify = r.json.result.steps.find((s: { name: string }) => s.name === 'verify');
    const toHealthy = steps.flip! + steps.restart! + verify.evidence.healthyAfterMs;
    return {
      to,
      toHealthy,
      toHealthyWithRehash: toHealthy + steps['verify-release']!,
      seenHealthy: seenAt - t0,
      wall,
      steps,
      healthyAfterMs: verify.evidence.healthyAfterMs,
      probes: verify.evidence.probes,
    };
  }

  async function anchor(unit: string, port: number, version?: string): Promise<AnchorRun> {
    const before = await unitTimes(manager, unit);
    const t0 = monoMs();
    const r = await manager.systemctl(['restart', unit]);
    const restart = monoMs() - t0;
    expect(r.exitCode, r.stderr).toBe(0);
    const healthyAt = await firstHealthy(port, { version, pollMs: POLL_MS });
    const after = await unitTimes(manager, unit);
    return { restart, toHealthy: healthyAt - t0, pidChanged: after.mainPid !== before.mainPid };
  }

  /** A read-only command on the same root: CLI start-up, config and state reads, no lock. The floor of any command. */
  async function cliFloor(): Promise<{ wall: number }> {
    const t0 = monoMs();
    const r = await gw.rs(['status']);
    const wall = monoMs() - t0;
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    return { wall };
  }

  it(`${REPS} alternating repetitions, stable-for ${STABLE_FOR} s`, async () => {
    const cases = {
      ours,
      'cli floor (status)': cliFloor,
      'anchor (same unit)': () => anchor(gw.unit, gw.port, current),
      'anchor (plain unit)': () => anchor(PLAIN, plainPort),
    } as const;
    type Name = keyof typeof cases;
    const names = Object.keys(cases) as Name[];
    const runs: Record<Name, Array<OursRun | AnchorRun | { wall: number }>> = {
      ours: [],
      'cli floor (status)': [],
      'anchor (same unit)': [],
      'anchor (plain unit)': [],
    };
    for (let rep = -1; rep < REPS; rep++) {
      // Rotate the order each repetition, so no case always runs first (or right after the same neighbour).
      const order = names.map((_, i) => names[(i + Math.max(rep, 0)) % names.length]!);
      for (const name of order) {
        const run = await cases[name]();
        if (rep >= 0) runs[name].push(run); // rep -1 is the warm-up
        await delay(200);
      }
    }
    const o = runs.ours as OursRun[];
    const same = runs['anchor (same unit)'] as AnchorRun[];
    const plain = runs['anchor (plain unit)'] as AnchorRun[];
    const floor = runs['cli floor (status)'] as Array<{ wall: number }>;
    expect([...same, ...plain].every((a) => a.pidChanged)).toBe(true);

    const m = {
      oursToHealthy: median(o.map((r) => r.toHealthy)),
      oursToHealthyWithRehash: median(o.map((r) => r.toHealthyWithRehash)),
      oursSeenHealthy: median(o.map((r) => r.seenHealthy)),
      oursWall: median(o.map((r) => r.wall)),
      oursHealthyAfterMs: median(o.map((r) => r.healthyAfterMs)),
      oursRestartStep: median(o.map((r) => r.steps.restart!)),
      oursFlipStep: median(o.map((r) => r.steps.flip!)),
      oursRehashStep: median(o.map((r) => r.steps['verify-release']!)),
      cliFloorStatus: median(floor.map((r) => r.wall)),
      anchorSame: median(same.map((r) => r.toHealthy)),
      anchorSameRestart: median(same.map((r) => r.restart)),
      anchorPlain: median(plain.map((r) => r.toHealthy)),
      anchorPlainRestart: median(plain.map((r) => r.restart)),
    };
    const ratios = {
      toHealthyVsSameUnit: m.oursToHealthy / m.anchorSame,
      toHealthyVsPlainUnit: m.oursToHealthy / m.anchorPlain,
      toHealthyWithRehashVsSameUnit: m.oursToHealthyWithRehash / m.anchorSame,
      seenHealthyVsSameUnit: m.oursSeenHealthy / m.anchorSame,
      wallVsSameUnit: m.oursWall / m.anchorSame,
      wallVsPlainUnit: m.oursWall / m.anchorPlain,
    };

    const lines = [
      '',
      `rollback bench: ${REPS} repetitions (+1 warm-up), alternating, rs-fixture-gateway 1.0.0 <-> 1.1.0, private systemd --user`,
      `release-switcher: --stable-for ${STABLE_FOR} (the stability window is a deliberate wait; only wall time includes it), verify polls every 20 ms in the first second`,
      `anchors: systemctl --user restart UNIT, then GET /health every ${POLL_MS} ms until 200`,
      `load average at the end: ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')} (${cpus().length} CPUs)`,
      '',
      'per repetition (ms): ours to-healthy [flip+restart+healthyAfter] | ours seen-healthy | ours wall | anchor same unit | anchor plain unit',
      ...o.map(
        (r, i) =>
          `  ${i + 1}: ${Math.round(r.toHealthy)} [${r.steps.flip}+${r.steps.restart}+${r.healthyAfterMs}] | ${Math.round(r.seenHealthy)} | ${Math.round(r.wall)} | ${Math.round(same[i]!.toHealthy)} | ${Math.round(plain[i]!.toHealthy)}`,
      ),
      '',
      'medians:',
      `  ours: time to verified-healthy (flip + restart + verify.healthyAfterMs)   ${ms(m.oursToHealthy)}   (flip ${ms(m.oursFlipStep)}, restart ${ms(m.oursRestartStep)}, healthyAfter ${ms(m.oursHealthyAfterMs)})`,
      `  ours: same + verify-release (re-hash before the flip)                      ${ms(m.oursToHealthyWithRehash)}   (verify-release ${ms(m.oursRehashStep)})`,
      `  ours: healthy as seen from outside (CLI spawn -> target version 200)       ${ms(m.oursSeenHealthy)}`,
      `  ours: total command wall time                                              ${ms(m.oursWall)}`,
      `  reference: \`release-switcher status\` wall (CLI start-up floor, no lock)     ${ms(m.cliFloorStatus)}`,
      `  anchor, same unit (with release-switcher's boot-check ExecStartPre)        ${ms(m.anchorSame)}   (systemctl restart ${ms(m.anchorSameRestart)})`,
      `  anchor, plain unit (no ExecStartPre)                                       ${ms(m.anchorPlain)}   (systemctl restart ${ms(m.anchorPlainRestart)})`,
      '',
      'ratios (ours / anchor):',
      `  time to verified-healthy / anchor same unit    ${ratio(ratios.toHealthyVsSameUnit)}  ${goal(ratios.toHealthyVsSameUnit, GOAL)}`,
      `  time to verified-healthy / anchor plain unit   ${ratio(ratios.toHealthyVsPlainUnit)}  ${goal(ratios.toHealthyVsPlainUnit, GOAL)}`,
      `  same incl. verify-release / anchor same unit   ${ratio(ratios.toHealthyWithRehashVsSameUnit)}`,
      `  seen healthy from outside / anchor same unit   ${ratio(ratios.seenHealthyVsSameUnit)}`,
      `  total wall / anchor same unit                  ${ratio(ratios.wallVsSameUnit)}`,
      `  total wall / anchor plain unit                 ${ratio(ratios.wallVsPlainUnit)}`,
    ];
    const file = saveResult('rollback-systemd', {
      reps: REPS,
      stableForSeconds: STABLE_FOR,
      anchorPollMs: POLL_MS,
      medians: m,
      ratios,
      runs: { ours: o, anchorSameUnit: same, anchorPlainUnit: plain, cliFloorStatus: floor },
    });
    console.log([...lines, '', `saved ${file}`].join('\n'));
  });
});
