// Proves the private `systemd --user` harness: it boots, runs and restarts a real service, hosts `systemd-run`
// helpers that outlive a restart of the unit that launched them, and leaves nothing behind.
import { existsSync } from 'node:fs';
import { describeWhere } from './skip.ts';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { canRunUserManager, isAlive, startUserManager, type UserManager } from './systemd.ts';

const support = canRunUserManager();
const title = 'private systemd --user manager';
const SYSTEMD_RUN = ['/usr/bin/systemd-run', '/bin/systemd-run'].find(existsSync) ?? 'systemd-run';
// skipIf alone is silent in the default reporter: say why, so a skip never passes for a pass.
if (!support.ok) console.warn(`skipping ${title} tests: ${support.why}`);

// A service like the gateway, small: answers {pid} on /, exits on /crash (a crash, for Restart=always), and on
// /spawn launches two helpers from inside its own cgroup: one `detached` (openclaw#84068: dies with the unit) and
// one through `systemd-run --user --collect` (its own transient unit: must survive a restart of this one).
const ECHO_SERVER = `
import { createServer } from 'node:http';
import { execFile, spawn } from 'node:child_process';
const [port, systemdRun] = process.argv.slice(2);
const idle = ['-e', 'setInterval(() => {}, 1 << 30)'];
createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  res.setHeader('content-type', 'application/json');
  if (url.pathname === '/crash') return res.end('{}', () => process.exit(3));
  if (url.pathname !== '/spawn') return res.end(JSON.stringify({ pid: process.pid }));
  const detached = spawn(process.execPath, idle, { detached: true, stdio: 'ignore' });
  detached.unref();
  const args = ['--user', '--unit=' + url.searchParams.get('unit'), '--collect', process.execPath, ...idle];
  execFile(systemdRun, args, { timeout: 10000 }, (error, stdout, stderr) => {
    res.end(JSON.stringify({ detachedPid: detached.pid, exitCode: error ? error.code ?? 1 : 0, stderr }));
  });
}).listen(Number(port), '127.0.0.1', () => console.log('listening on ' + port + ' as ' + process.pid));
`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  if (port === 18789) return freePort(); // the real gateway's port: never collide with a developer's gateway
  return port;
}

async function getJson(url: string): Promise<Record<string, unknown> | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return (await res.json()) as Record<string, unknown>;
  } catch {
    return undefined; // not listening (yet)
  }
}

/** A property of `unit`, or of the manager itself when `unit` is ''. */
async function show(um: UserManager, unit: string, property: string): Promise<string> {
  const r = await um.systemctl(['show', ...(unit ? [unit] : []), `--property=${property}`, '--value']);
  expect(r.exitCode, r.stderr).toBe(0);
  return r.stdout.trim();
}

describeWhere(support, title, () => {
  let um: UserManager;
  let port: number;
  let echoLog: string | undefined;

  beforeAll(async () => {
    um = await startUserManager({ name: 'harness' });
    console.log(`systemd --user booted in ${um.bootMs} ms (pid ${um.pid}, ${um.cgroups.join(', ')})`);
  }, 30_000);
  afterAll(() => um?.stop(), 30_000);

  beforeEach(({ onTestFailed }) => {
    onTestFailed(async () => {
      const echo = echoLog ? await readFile(echoLog, 'utf8').catch(() => '') : '';
      console.error(`--- manager log ---\n${await um.readLog()}\n--- rs-echo output ---\n${echo}`);
    });
  });

  async function answeringPid(): Promise<number | undefined> {
    const body = await getJson(`http://127.0.0.1:${port}/`);
    return typeof body?.pid === 'number' ? body.pid : undefined;
  }

  async function waitForNewServer(oldPid: number): Promise<number> {
    let pid: number | undefined;
    await um.waitFor(
      async () => {
        pid = await answeringPid();
        return pid !== undefined && pid !== oldPid;
      },
      {
        what: `a new rs-echo process answering (old pid ${oldPid})`,
      },
    );
    return pid!;
  }

  test('boots to SystemState=running, under a cgroup path containing /user@<uid>.service/', async () => {
    expect(await show(um, '', 'SystemState')).toBe('running');
    expect(await show(um, '', 'ControlGroup')).toMatch(/\/user@\d+\.service$/);
    expect(um.bootMs).toBeLessThan(5_000);
    const failed = await um.systemctl(['list-units', '--failed', '--plain', '--no-legend']);
    expect(failed.stdout.trim()).toBe('');
  });

  test('runs rs-echo.service; a restart and a crash each give a new MainPID', async () => {
    port = await freePort();
    const script = path.join(um.root, 'echo-server.mjs');
    echoLog = path.join(um.root, 'rs-echo.log');
    await writeFile(script, ECHO_SERVER);
    await um.writeUnit(
      'rs-echo.service',
      [
        '[Unit]',
        'StartLimitIntervalSec=0',
        '[Service]',
        `ExecStart=${process.execPath} ${script} ${port} ${SYSTEMD_RUN}`,
        `StandardOutput=append:${echoLog}`,
        `StandardError=append:${echoLog}`,
        'Restart=always',
        'RestartSec=100ms',
        '',
      ].join('\n'),
    );
    const start = await um.systemctl(['start', 'rs-echo.service']);
    expect(start.exitCode, start.stderr).toBe(0);
    const first = await waitForNewServer(-1);
    expect(Number(await show(um, 'rs-echo.service', 'MainPID'))).toBe(first);
    expect(await show(um, 'rs-echo.service', 'NRestarts')).toBe('0');

    // Explicit restart: new process. Observed on systemd 252: NRestarts is NOT bumped (it counts automatic restarts).
    const restart = await um.systemctl(['restart', 'rs-echo.service']);
    expect(restart.exitCode, restart.stderr).toBe(0);
    const second = await waitForNewServer(first);
    expect(Number(await show(um, 'rs-echo.service', 'MainPID'))).toBe(second);
    const afterRestart = await show(um, 'rs-echo.service', 'NRestarts');
    console.log(`explicit restart: MainPID ${first} -> ${second}, NRestarts ${afterRestart}`);
    expect(afterRestart).toBe('0');

    // Crash (exit 3) with Restart=always: systemd restarts it after RestartSec and counts it.
    await getJson(`http://127.0.0.1:${port}/crash`);
    const third = await waitForNewServer(second);
    await um.waitFor(async () => Number(await show(um, 'rs-echo.service', 'MainPID')) === third, {
      what: 'MainPID update',
    });
    const afterCrash = await show(um, 'rs-echo.service', 'NRestarts');
    console.log(`crash + Restart=always: MainPID ${second} -> ${third}, NRestarts ${afterCrash}`);
    expect(afterCrash).toBe('1');
    expect(await show(um, 'rs-echo.service', 'ActiveState')).toBe('active');
  }, 30_000);

  test('a systemd-run --collect helper launched from inside rs-echo survives its restart; a detached one does not', async () => {
    const server = await answeringPid();
    expect(server, 'rs-echo must be running (previous test)').toBeDefined();
    const spawned = await getJson(`http://127.0.0.1:${port}/spawn?unit=rs-helper`);
    expect(spawned, 'rs-echo /spawn answered').toBeDefined();
    expect(spawned!.exitCode, String(spawned!.stderr)).toBe(0);
    const detachedPid = spawned!.detachedPid as number;
    // Both were launched from inside rs-echo.service's cgroup (like `openclaw update` run under the gateway).
    expect(await readFile(`/proc/${detachedPid}/cgroup`, 'utf8')).toMatch(/\/app\.slice\/rs-echo\.service$/m);
    const helperPid = Number(await show(um, 'rs-helper.service', 'MainPID'));
    expect(helperPid).toBeGreaterThan(0);
    expect(isAlive(detachedPid)).toBe(true);
    // The helper lives in its own transient unit's cgroup, not in rs-echo.service's.
    expect(await show(um, 'rs-helper.service', 'ControlGroup')).toMatch(/\/app\.slice\/rs-helper\.service$/);

    const restart = await um.systemctl(['restart', 'rs-echo.service']);
    expect(restart.exitCode, restart.stderr).toBe(0);
    await waitForNewServer(server!);
    await um.waitFor(() => !isAlive(detachedPid), { what: `detached pid ${detachedPid} to die with rs-echo` });
    expect(isAlive(helperPid)).toBe(true);
    expect(await show(um, 'rs-helper.service', 'ActiveState')).toBe('active');
    expect(Number(await show(um, 'rs-helper.service', 'MainPID'))).toBe(helperPid);

    // Also from outside: systemd-run with the manager's env reaches this manager.
    const outside = await um.run('systemd-run', ['--user', '--unit=rs-outside', '--collect', '/bin/true']);
    expect(outside.exitCode, outside.stderr).toBe(0);
  }, 30_000);

  test('several managers boot side by side, each with its own units', async () => {
    const managers = await Promise.all([1, 2, 3].map((i) => startUserManager({ name: `parallel${i}` })));
    try {
      console.log(`parallel boots: ${managers.map((m) => `${m.bootMs} ms`).join(', ')}`);
      expect(new Set(managers.map((m) => m.pid)).size).toBe(3);
      for (const m of managers) {
        expect(await show(m, '', 'SystemState')).toBe('running');
        expect((await m.systemctl(['cat', 'rs-echo.service'])).exitCode).not.toBe(0); // not the shared manager's
      }
    } finally {
      await Promise.all(managers.map((m) => m.stop()));
    }
  }, 30_000);

  test('stop() leaves no processes and no cgroups, even with a unit that ignores SIGTERM', async () => {
    const own = await startUserManager({ name: 'stop' });
    const ready = path.join(own.root, 'stubborn.ready');
    const script = path.join(own.root, 'stubborn.cjs');
    // Says it is ready only once the handler is in: SIGTERM before that would kill node at once.
    await writeFile(
      script,
      `process.on('SIGTERM', () => {});
require('node:fs').writeFileSync(${JSON.stringify(ready)}, '');
setInterval(() => {}, 1 << 30);
`,
    );
    await own.writeUnit('rs-stubborn.service', `[Service]\nExecStart=${process.execPath} ${script}\n`);
    const start = await own.systemctl(['start', 'rs-stubborn.service']);
    expect(start.exitCode, start.stderr).toBe(0);
    const run = await own.run('systemd-run', ['--user', '--unit=rs-idle', '--collect', 'sleep', '600']);
    expect(run.exitCode, run.stderr).toBe(0);
    await own.waitFor(() => existsSync(ready), { what: 'rs-stubborn to ignore SIGTERM' });
    const pids = await own.pids();
    expect(pids).toContain(own.pid);
    expect(pids).toContain(Number(await show(own, 'rs-stubborn.service', 'MainPID')));
    expect(pids).toContain(Number(await show(own, 'rs-idle.service', 'MainPID')));

    const started = Date.now();
    await own.stop();
    console.log(`stop() with a SIGTERM-ignoring unit took ${Date.now() - started} ms; pids were ${pids.join(' ')}`);
    for (const cg of own.cgroups) expect(existsSync(path.dirname(cg)), cg).toBe(false);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(own.root)).toBe(false);
    await own.stop(); // idempotent
  }, 30_000);
});
