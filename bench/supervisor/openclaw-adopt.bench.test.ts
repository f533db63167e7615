// Adopting a real, running openclaw without changing how it runs (issue 13's before/after), under a private
// systemd --user: openclaw 2026.9.5 installed with `npm install -g` on Node 24; its own unit exactly as `openclaw gateway
// install` renders it (test/unit-files/fixtures/openclaw-gateway.service, rendered by its dist, with this run's Node,
// prefix and port); the gateway on a non-default port. Then `init --preset openclaw --adopt` + `unit --install` + a
// restart. Prints the unit, the drop-in and `systemctl cat`; checks the port, the Node options (/proc/<pid>/cmdline),
// the stop budget (systemctl show), doctor's health check and openclaw's own service audit (`gateway status --json`).
// One run, timings printed (the machine is shared: they are indications, not medians).
//
//   npm run build && npx vitest run --config bench/vitest.config.ts bench/supervisor/openclaw-adopt.bench.test.ts
//
// BENCH_NODE24=<node> uses that Node 24 (default: bench/lib/node24.mjs); OPENCLAW_PREFIX=<dir> reuses an
// `npm install -g --prefix <dir> openclaw@2026.9.5` (default: one into a temp dir, npm's cache from npm_config_cache).
// How the gateway is set up: test/support/openclaw.ts.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli } from '../../test/support/cli.ts';
import { freePort } from '../../test/support/service.ts';
import { describeWhere } from '../../test/support/skip.ts';
import { canRunUserManager, type UserManager } from '../../test/support/systemd.ts';
import {
  OPENCLAW_UNIT as UNIT,
  openclawBench,
  openclawHealthy,
  removeOpenclawBench,
  seconds as s,
  writeOpenclawService,
} from '../../test/support/openclaw.ts';

const VERSION = '2026.9.5';
const can = canRunUserManager();

describeWhere(can, 'bench: adopt a running openclaw (real package, its own unit, private systemd --user)', () => {
  let um: UserManager;
  let node: string;
  let prefix: string;
  const work = mkdtempSync(path.join(tmpdir(), 'rs-bench-ocadopt-'));
  const root = path.join(work, 'root');
  const inNs = (args: string[], timeout = 180_000) =>
    execa('nsenter', ['-t', String(um.pid), '-m', 'env', `HOME=${userInfo().homedir}`, ...args], {
      env: { ...um.env, PATH: `${path.dirname(node)}:${um.env.PATH}` },
      extendEnv: false,
      reject: false,
      timeout,
    });

  beforeAll(async () => {
    ({ node, prefix, um } = await openclawBench({ name: 'ocadopt', work, version: VERSION }));
  }, 1_200_000);

  afterAll(() => removeOpenclawBench(um, work), 120_000);

  const healthy = (port: number, pid: number | null, timeoutMs: number) =>
    openclawHealthy(um, { port, pid, timeoutMs });
  const show = async () =>
    Object.fromEntries(
      (
        await um.systemctl([
          'show',
          UNIT,
          '-p',
          'TimeoutStopUSec',
          '-p',
          'RestartUSec',
          '-p',
          'KillMode',
          '-p',
          'RestartPreventExitStatus',
        ])
      ).stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );

  it('the gateway answers on its own port, with its Node options and its stop budget, through <root>/current', async () => {
    const port = await freePort();
    const installed = path.join(prefix, 'lib', 'node_modules', 'openclaw');
    const unitText = await writeOpenclawService(um, {
      node,
      prefix,
      port,
      compileCache: false /* the default install's starts */,
    });
    expect((await um.systemctl(['start', UNIT])).exitCode).toBe(0);
    const before = await healthy(port, null, 300_000);
    console.log(
      `--- openclaw's unit (as its gateway install writes it) ---\n${unitText}\nfirst start: healthy after ${s(before.ms)}`,
    );
    const showBefore = await show();

    const env = um.env as Record<string, string>;
    let started = Date.now();
    const init = await cli(
      ['--root', root, 'init', '--preset', 'openclaw', '--adopt', installed, '--node', node, '--unit', UNIT],
      { env, timeout: 900_000, as: null },
    );
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    console.log(`--- init --preset openclaw --adopt (${s(Date.now() - started)}) ---\n${init.stdout}`);
    expect(init.stdout).toContain(
      `port ${port} (ExecStart --port ${port}); Node options --max-old-space-size=8192; TimeoutStopSec 330; RestartSec 5`,
    );
    const unit = await cli(['--root', root, 'unit', '--install'], { env, as: null });
    expect(unit.exitCode, unit.stdout + unit.stderr).toBe(0);
    const dropIn = readFileSync(path.join(um.unitDir, `${UNIT}.d`, 'release-switcher.conf'), 'utf8');
    console.log(`--- unit --install ---\n${unit.stdout}\n--- the drop-in ---\n${dropIn}`);

    started = Date.now();
    expect((await um.systemctl(['restart', UNIT], { timeoutMs: 400_000 })).exitCode).toBe(0);
    const restartMs = Date.now() - started;
    const after = await healthy(port, before.pid, 300_000);
    console.log(
      `restart: systemctl returned after ${s(restartMs)}, healthy on ${port} after ${s(restartMs + after.ms)}`,
    );
    expect(after.version).toBe(VERSION);
    const argv = readFileSync(`/proc/${after.pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
    expect(argv).toEqual([
      node,
      '--max-old-space-size=8192',
      path.join(root, 'current', 'dist', 'index.js'),
      'gateway',
      '--port',
      String(port),
    ]);
    expect(await show()).toEqual(showBefore);
    expect(showBefore).toEqual({
      TimeoutStopUSec: '5min 30s',
      RestartUSec: '5s',
      KillMode: 'mixed',
      RestartPreventExitStatus: '78',
    });
    console.log(
      `--- systemctl --user cat ${UNIT} ---\n${(await um.systemctl(['cat', UNIT])).stdout}\n--- /proc/${after.pid}/cmdline ---\n${argv.join(' ')}\n--- systemctl show ---\n${JSON.stringify(await show())}`,
    );

    const doctor = await cli(['--root', root, '--json', 'doctor'], { env, as: null });
    expect(
      doctor.json?.result?.checks?.find((c: { name: string }) => c.name === 'health'),
      doctor.stdout,
    ).toMatchObject({ ok: true });
    // openclaw's own view: its service audit (systemd-stop-timeout, kill mode, …) finds nothing to fix.
    const status = await inNs([path.join(root, 'bin', 'openclaw'), 'gateway', 'status', '--json']);
    const audit = JSON.parse(status.stdout).service?.configAudit;
    console.log(`--- openclaw gateway status --json: service.configAudit ---\n${JSON.stringify(audit)}`);
    expect(audit).toEqual({ ok: true, issues: [] });
  }, 1_800_000);
});
