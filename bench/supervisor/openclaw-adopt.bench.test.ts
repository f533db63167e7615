// Adopting a real, running openclaw without changing how it runs (issue 13's before/after), under a private
// systemd --user: openclaw 2026.9.5 installed with `npm install -g` on Node 24; its own unit exactly as `openclaw gateway
// install` renders it (test/service/fixtures/openclaw-gateway.service, rendered by its dist, with this run's Node,
// prefix and port); the gateway on a non-default port. Then `init --preset openclaw --adopt` + `unit --install` + a
// restart. Prints the unit, the drop-in and `systemctl cat`; checks the port, the Node options (/proc/<pid>/cmdline),
// the stop budget (systemctl show), doctor's health check and openclaw's own service audit (`gateway status --json`).
// One run, timings printed (the machine is shared: they are indications, not medians).
//
//   npm run build && npx vitest run --config bench/vitest.config.ts bench/supervisor/openclaw-adopt.bench.test.ts
//
// BENCH_NODE24=<node> uses that Node 24 (default: bench/lib/node24.mjs); OPENCLAW_PREFIX=<dir> reuses an
// `npm install -g --prefix <dir> openclaw@2026.9.5` (default: one into a temp dir, npm's cache from npm_config_cache).
//
// openclaw's CLI refuses to manage a service unless HOME is the account's home: inside the manager's own mount
// namespace the manager's temp HOME is bound over that home (/root), so the unit's `Environment=HOME=/root` and
// `openclaw gateway status` see the temp one; nothing outside the namespace changes.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureNode24 } from '../lib/node24.mjs';
import { cli } from '../../test/support/cli.ts';
import { freePort } from '../../test/support/service.ts';
import { describeWhere } from '../../test/support/skip.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../../test/support/systemd.ts';

const VERSION = '2026.9.5';
const UNIT = 'openclaw-gateway.service';
const FIXTURE = path.resolve(import.meta.dirname, '../../test/service/fixtures/openclaw-gateway.service');
const can = canRunUserManager();
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describeWhere(can, 'bench: adopt a running openclaw (real package, its own unit, private systemd --user)', () => {
  let um: UserManager;
  let node: string;
  let prefix: string;
  const work = mkdtempSync(path.join(tmpdir(), 'rs-bench-ocadopt-'));
  const root = path.join(work, 'root');
  const inNs = (args: string[], timeout = 180_000) => execa('nsenter', ['-t', String(um.pid), '-m', 'env', `HOME=${userInfo().homedir}`, ...args], { env: { ...um.env, PATH: `${path.dirname(node)}:${um.env.PATH}` }, extendEnv: false, reject: false, timeout });

  beforeAll(async () => {
    node = process.env.BENCH_NODE24 ?? (await ensureNode24()).node;
    prefix = process.env.OPENCLAW_PREFIX ?? path.join(work, 'prefix');
    if (!existsSync(path.join(prefix, 'lib', 'node_modules', 'openclaw', 'package.json'))) {
      const started = Date.now();
      const npm = await execa(node, [path.join(path.dirname(node), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'), 'install', '-g', '--prefix', prefix, `openclaw@${VERSION}`, '--no-audit', '--no-fund'], {
        env: { ...process.env, PATH: `${path.dirname(node)}:${process.env.PATH}`, npm_config_logs_dir: path.join(work, 'npm-logs'), npm_config_update_notifier: 'false' },
        reject: false,
        timeout: 900_000,
      });
      expect(npm.exitCode, npm.stderr.slice(-2000)).toBe(0);
      console.log(`npm install -g openclaw@${VERSION}: ${s(Date.now() - started)}`);
    }
    um = await startUserManager({ name: 'ocadopt' });
    // The manager's HOME over the account's home, in the manager's namespace only; openclaw finds its units there.
    symlinkSync(um.env.XDG_CONFIG_HOME!, path.join(um.env.HOME!, '.config'));
    const bind = await execa('nsenter', ['-t', String(um.pid), '-m', 'mount', '--bind', um.env.HOME!, userInfo().homedir], { reject: false });
    expect(bind.exitCode, bind.stderr).toBe(0);
  }, 1_200_000);

  afterAll(async () => {
    await um?.stop();
    await execa('chattr', ['-R', '-f', '-i', work], { reject: false });
    rmSync(work, { recursive: true, force: true });
  }, 120_000);

  async function healthy(port: number, pid: number | null, timeoutMs: number): Promise<{ version: string; ms: number; pid: number }> {
    const started = Date.now();
    for (;;) {
      const body = await fetch(`http://127.0.0.1:${port}/startupz`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.json() as Promise<{ ok?: boolean; version?: string }>).catch(() => undefined);
      const main = Number((await um.systemctl(['show', '-p', 'MainPID', '--value', UNIT])).stdout.trim());
      if (body?.ok && main > 0 && main !== pid) return { version: body.version!, ms: Date.now() - started, pid: main };
      if (Date.now() - started > timeoutMs) throw new Error(`openclaw did not answer on ${port} within ${s(timeoutMs)}:\n${await um.readLog()}`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
  const show = async () => Object.fromEntries((await um.systemctl(['show', UNIT, '-p', 'TimeoutStopUSec', '-p', 'RestartUSec', '-p', 'KillMode', '-p', 'RestartPreventExitStatus'])).stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

  it('the gateway answers on its own port, with its Node options and its stop budget, through <root>/current', async () => {
    const port = await freePort();
    const installed = path.join(prefix, 'lib', 'node_modules', 'openclaw');
    mkdirSync(path.join(um.env.HOME!, '.openclaw'), { recursive: true });
    writeFileSync(path.join(um.env.HOME!, '.openclaw', 'openclaw.json'), `// the user's own config\n{\n  gateway: { mode: 'local', port: ${port}, bind: 'loopback' },\n}\n`);
    // openclaw's own unit, with this run's Node, prefix and port (HOME=/root is the bound temp home in the namespace).
    const unitText = readFileSync(FIXTURE, 'utf8')
      .replaceAll('/work/main/.bench-cache/node24/bin/node', node).replaceAll('/work/main/.bench-cache/node24/bin', path.dirname(node))
      .replaceAll('/tmp/oc/prefix', prefix).replaceAll('18931', String(port)).replaceAll('HOME=/root', `HOME=${userInfo().homedir || homedir()}`);
    await um.writeUnit(UNIT, unitText);
    expect((await um.systemctl(['start', UNIT])).exitCode).toBe(0);
    const before = await healthy(port, null, 300_000);
    console.log(`--- openclaw's unit (as its gateway install writes it) ---\n${unitText}\nfirst start: healthy after ${s(before.ms)}`);
    const showBefore = await show();

    const env = um.env as Record<string, string>;
    let started = Date.now();
    const init = await cli(['--root', root, 'init', '--preset', 'openclaw', '--adopt', installed, '--node', node, '--unit', UNIT], { env, timeout: 900_000 });
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    console.log(`--- init --preset openclaw --adopt (${s(Date.now() - started)}) ---\n${init.stdout}`);
    expect(init.stdout).toContain(`port ${port} (ExecStart --port ${port}); Node options --max-old-space-size=8192; TimeoutStopSec 330; RestartSec 5`);
    const unit = await cli(['--root', root, 'unit', '--install'], { env });
    expect(unit.exitCode, unit.stdout + unit.stderr).toBe(0);
    const dropIn = readFileSync(path.join(um.unitDir, `${UNIT}.d`, 'release-switcher.conf'), 'utf8');
    console.log(`--- unit --install ---\n${unit.stdout}\n--- the drop-in ---\n${dropIn}`);

    started = Date.now();
    expect((await um.systemctl(['restart', UNIT], { timeoutMs: 400_000 })).exitCode).toBe(0);
    const restartMs = Date.now() - started;
    const after = await healthy(port, before.pid, 300_000);
    console.log(`restart: systemctl returned after ${s(restartMs)}, healthy on ${port} after ${s(restartMs + after.ms)}`);
    expect(after.version).toBe(VERSION);
    const argv = readFileSync(`/proc/${after.pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
    expect(argv).toEqual([node, '--max-old-space-size=8192', path.join(root, 'current', 'dist', 'index.js'), 'gateway', '--port', String(port)]);
    expect(await show()).toEqual(showBefore);
    expect(showBefore).toEqual({ TimeoutStopUSec: '5min 30s', RestartUSec: '5s', KillMode: 'mixed', RestartPreventExitStatus: '78' });
    console.log(`--- systemctl --user cat ${UNIT} ---\n${(await um.systemctl(['cat', UNIT])).stdout}\n--- /proc/${after.pid}/cmdline ---\n${argv.join(' ')}\n--- systemctl show ---\n${JSON.stringify(await show())}`);

    const doctor = await cli(['--root', root, '--json', 'doctor'], { env });
    expect(doctor.json?.result?.checks?.find((c: { name: string }) => c.name === 'health'), doctor.stdout).toMatchObject({ ok: true });
    // openclaw's own view: its service audit (systemd-stop-timeout, kill mode, …) finds nothing to fix.
    const status = await inNs([path.join(root, 'bin', 'openclaw'), 'gateway', 'status', '--json']);
    const audit = JSON.parse(status.stdout).service?.configAudit;
    console.log(`--- openclaw gateway status --json: service.configAudit ---\n${JSON.stringify(audit)}`);
    expect(audit).toEqual({ ok: true, issues: [] });
  }, 1_800_000);
});
