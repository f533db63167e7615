// Proves the private systemd system manager (system-manager.ts) with OpenClaw's Ansible role's unit, verbatim, for
// the service account: the gateway runs as that account inside the role's sandbox, its ExecStartPre drop-ins run
// where systemd says they do, Restart=always brings it back, our CLI's wrappers reach the manager as root and as the
// account (through the role's sudoers lines), and stop() and the stale sweep leave nothing behind.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { chown, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { type Account, asAccount, processUids, serviceAccount } from './accounts.ts';
import { roleSudoers, roleUnit } from './ansible-unit.ts';
import { describeWhere } from './skip.ts';
import { runnableBy } from './cli.ts';
import {
  type SystemManager,
  startSystemManager,
  SYSTEM_MANAGER_HOME,
  SYSTEM_MANAGER_PREFIX,
  sweepStaleSystemManagers,
} from './system-manager.ts';
import { type ClientBin, canRunRoleBed, clientBin, installRoleUnit, nodeForService } from './system-manager-client.ts';
import { isAlive } from './systemd-cleanup.ts';

const support = canRunRoleBed();

// The gateway, small: `openclaw gateway` answers who it is, tries a write, or runs a command from inside the unit.
const GATEWAY = `
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const reply = (body) => res.end(JSON.stringify(body));
  if (url.pathname === '/write') {
    try { writeFileSync(url.searchParams.get('path'), 'x'); return reply({ ok: true }); }
    catch (error) { return reply({ ok: false, code: error.code }); }
  }
  if (url.pathname === '/exec') {
    const [file, ...args] = url.searchParams.getAll('arg');
    return execFile(file, args, { timeout: 10000 }, (error, stdout, stderr) =>
      reply({ code: error ? (error.code ?? 1) : 0, stdout, stderr }));
  }
  reply({ pid: process.pid, argv: process.argv.slice(2), home: process.env.HOME, cwd: process.cwd() });
}).listen(Number(process.env.RS_PORT), '127.0.0.1');
`;

// An ExecStartPre= probe: whom it runs as, and whether it can create each file it is given (with the error if not).
const PRE_PROBE = `#!/bin/sh
out="$1"; shift
{ echo "uid=$(id -u)"
  for f in "$@"; do
    if msg=$( { : > "$f"; } 2>&1 ); then echo "ok $f"; else echo "fail $f: $msg"; fi
  done; } > "$out"
`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port === 18789 ? freePort() : port; // the real gateway's port: never collide with a developer's gateway
}

describeWhere(support, 'private systemd system manager with the Ansible role unit', () => {
  let sm: SystemManager;
  let who: Account;
  let port: number;
  let fixture: string;
  let client: ClientBin;
  const get = async (route: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${route}`, { signal: AbortSignal.timeout(12_000) });
    return (await res.json()) as Record<string, unknown>;
  };
  const answering = async () => (await get('/').catch(() => undefined))?.pid as number | undefined;

  beforeAll(async () => {
    who = serviceAccount();
    sm = await startSystemManager({ name: 'role' });
    console.log(`systemd --system booted in ${sm.bootMs} ms (host pid ${sm.pid}, ${sm.cgroup})`);
    port = await freePort();
    // Outside /tmp (PrivateTmp hides it from the unit): the manager's own folder, open to the account.
    fixture = path.join(sm.base, 'fixture');
    mkdirSync(fixture, { mode: 0o755 });
    const node = nodeForService(who, fixture);
    writeFileSync(path.join(fixture, 'gateway.mjs'), GATEWAY);
    writeFileSync(path.join(fixture, 'pre-probe.sh'), PRE_PROBE, { mode: 0o755 });
    mkdirSync(path.join(fixture, 'owned'));
    await chown(path.join(fixture, 'owned'), who.uid, who.gid); // the account's, yet outside ReadWritePaths
    // The shim where the role's PATH points: ~/.local/bin/openclaw, as pnpm's bin would be.
    const shim = path.join(who.home, '.local', 'bin', 'openclaw');
    await installRoleUnit(sm, who, shim);
    await writeFile(shim, `#!/bin/sh\nRS_PORT=${port} exec ${node} ${fixture}/gateway.mjs "$@"\n`, { mode: 0o755 });
    await chown(shim, who.uid, who.gid);
    // The role logs to the journal, which the test bed has not: a drop-in keeps the gateway's output.
    const log = path.join(fixture, 'gateway.log');
    await sm.writeDropIn('openclaw.service', '00-test-log', `[Service]\nStandardOutput=append:${log}\n`);
    client = await clientBin(sm, { readers: [who], sudoers: (systemctl) => roleSudoers(who, systemctl) });
  }, 60_000);
  afterAll(async () => {
    await sm?.stop();
    // Its own files only: the folders are the account's (accounts.ts serviceAccount), shared with other test files.
    for (const file of [
      '.openclaw/state.txt',
      '.openclaw/pre',
      '.openclaw/pre-user.out',
      '.local/x',
      '.local/bin/openclaw',
    ])
      rmSync(path.join(who.home, file), { force: true });
  }, 30_000);
  beforeEach(({ onTestFailed }) => {
    onTestFailed(async () => {
      const out = await readFile(path.join(fixture, 'gateway.log'), 'utf8').catch(() => '');
      console.error(`--- manager log ---\n${await sm.readLog()}\n--- gateway output ---\n${out}`);
    });
  });

  test('boots to running in a few seconds, with nothing failed', async () => {
    expect(await sm.show('', 'SystemState')).toBe('running');
    expect(sm.bootMs).toBeLessThan(5_000);
    const failed = await sm.systemctl(['list-units', '--failed', '--plain', '--no-legend']);
    expect(failed.stdout.trim()).toBe('');
  });

  test("runs the role's unit verbatim as the service account: HTTP, its uid, EROFS outside ReadWritePaths", async () => {
    const unit = await sm.systemctl(['cat', 'openclaw.service']);
    expect(unit.stdout).toContain(roleUnit(who));
    const start = await sm.systemctl(['start', 'openclaw.service']);
    expect(start.exitCode, start.stderr).toBe(0);
    await sm.waitFor(async () => (await answering()) !== undefined, { what: 'the gateway to answer' });
    const pid = await sm.mainPid('openclaw.service');
    expect(pid).toBeGreaterThan(0);
    expect(processUids(pid)).toEqual([who.uid, who.uid, who.uid, who.uid]);
    const me = await get('/');
    expect(me).toMatchObject({ argv: ['gateway'], home: who.home, cwd: who.home });
    expect(await get(`/write?path=${who.home}/.openclaw/state.txt`)).toEqual({ ok: true });
    expect(await get(`/write?path=${who.home}/.local/x`)).toEqual({ ok: true });
    expect(await get(`/write?path=${who.home}/elsewhere`)).toEqual({ ok: false, code: 'EROFS' }); // ProtectHome
    expect(await get(`/write?path=${fixture}/owned/x`)).toEqual({ ok: false, code: 'EROFS' }); // ProtectSystem=strict
    // PrivateTmp: the manager's /tmp (our folder) is not the unit's.
    writeFileSync(path.join(sm.base, 'root', 'tmp', 'marker'), '');
    expect((await get('/exec?arg=/bin/ls&arg=-A&arg=/tmp')).stdout).toBe('');
  }, 30_000);

  test('ExecStartPre: a plain one runs as the account in the sandbox, a + one as root outside it', async () => {
    const probe = path.join(fixture, 'pre-probe.sh');
    const targets = `${who.home}/.openclaw/pre ${fixture}/owned/pre`;
    await sm.writeDropIn(
      'openclaw.service',
      '10-pre',
      `[Service]\nExecStartPre=${probe} ${who.home}/.openclaw/pre-user.out ${targets}\nExecStartPre=+${probe} ${fixture}/pre-root.out ${targets}\n`,
    );
    const before = await answering();
    const restart = await sm.systemctl(['restart', 'openclaw.service']);
    expect(restart.exitCode, restart.stderr).toBe(0);
    await sm.waitFor(async () => ![undefined, before].includes(await answering()), { what: 'a new gateway' });
    const user = await readFile(`${who.home}/.openclaw/pre-user.out`, 'utf8');
    expect(user).toContain(`uid=${who.uid}\nok ${who.home}/.openclaw/pre\n`);
    expect(user).toMatch(new RegExp(`fail ${fixture}/owned/pre: .*Read-only file system`));
    expect(await readFile(`${fixture}/pre-root.out`, 'utf8')).toBe(
      `uid=0\nok ${who.home}/.openclaw/pre\nok ${fixture}/owned/pre\n`,
    );
  }, 30_000);

  test('inside the unit, sudo refuses (NoNewPrivileges) and systemctl finds no way to the manager', async () => {
    const sudo = await get('/exec?arg=/usr/bin/sudo&arg=-n&arg=/usr/bin/systemctl&arg=restart&arg=openclaw');
    expect(sudo.code).not.toBe(0);
    expect(sudo.stderr).toMatch(/no new privileges/);
    const direct = await get('/exec?arg=/usr/bin/systemctl&arg=restart&arg=openclaw');
    expect(direct.code).not.toBe(0);
  });

  test("the CLI's wrappers: root reaches the manager; the account reads, and restarts only through sudo", async () => {
    const asWho = (command: string, args: string[]) => {
      const [file, argv] = asAccount(who, path.join(client.bin, command), args);
      return execa(file, argv, { env: client.env(), extendEnv: false, reject: false, timeout: 15_000 });
    };
    const root = await execa('systemctl', ['is-active', 'openclaw'], { env: client.env(), reject: false });
    expect(root.stdout.trim()).toBe('active');
    const run = await execa('systemd-run', ['--unit=rs-runner', '--collect', '/bin/true'], { env: client.env() });
    expect(run.exitCode).toBe(0);
    const shown = await asWho('systemctl', ['show', 'openclaw', '--property=ActiveState', '--value']);
    expect(shown.stdout.trim(), shown.stderr).toBe('active');
    const denied = await asWho('systemctl', ['restart', 'openclaw']);
    expect([denied.exitCode, denied.stderr]).toEqual([4, 'Failed to restart openclaw: Access denied']);
    expect((await asWho('systemd-run', ['/bin/true'])).exitCode).toBe(1);
    expect((await asWho('sudo', ['-n', 'systemctl', 'kill', 'openclaw'])).exitCode).not.toBe(0); // not in sudoers
    const before = await sm.mainPid('openclaw.service');
    const restart = await asWho('sudo', ['-n', 'systemctl', 'restart', 'openclaw']);
    expect(restart.exitCode, restart.stderr).toBe(0);
    expect(await sm.mainPid('openclaw.service')).not.toBe(before);
  }, 30_000);

  test("release-switcher's systemd-system supervisor, run as the service account, stops, starts and restarts the role's unit through sudo -n", async () => {
    // The built library's own supervisor, in a process of the account's (not a stand-in): what `sudo -u openclaw
    // release-switcher update` does to the unit. Its state is read without sudo, its changes go through the sudoers.
    const runnable = runnableBy(who); // the built package and Node as the account can reach them
    const script = `import { systemdSupervisor } from ${JSON.stringify(path.join(runnable.packageDir, 'dist/service/supervisors/systemd.js'))};
const s = systemdSupervisor({ unit: 'openclaw', scope: 'system', env: process.env });
const out = {};
for (const verb of ['restart', 'stop', 'start']) { await s[verb](); out[verb] = (await s.state()).mainPid; }
process.stdout.write(JSON.stringify(out));`;
    const before = await sm.mainPid('openclaw.service');
    const [file, argv] = asAccount(who, runnable.node, ['--input-type=module', '-e', script]);
    const ran = await execa(file, argv, { env: client.env(), extendEnv: false, reject: false, timeout: 60_000 });
    expect(ran.exitCode, ran.stdout + ran.stderr).toBe(0);
    const pids = JSON.parse(ran.stdout) as { restart: number | null; stop: number | null; start: number | null };
    expect(pids.restart).not.toBe(before);
    expect(pids.restart).toBeGreaterThan(0);
    expect(pids.stop).toBeNull();
    expect(pids.start).toBeGreaterThan(0);
    await sm.waitFor(async () => (await answering()) !== undefined, { what: 'the gateway to answer again' });
  }, 60_000);

  test('Restart=always (RestartSec=10) brings the gateway back after a kill', async () => {
    await sm.waitFor(async () => (await answering()) !== undefined, { what: 'the gateway to answer' });
    const pid = await sm.mainPid('openclaw.service');
    process.kill(pid, 'SIGKILL');
    await sm.waitFor(async () => ![0, pid].includes(await sm.mainPid('openclaw.service')), {
      what: 'systemd to restart the gateway',
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    expect(await sm.show('openclaw.service', 'NRestarts')).toBe('1');
    await sm.waitFor(async () => (await answering()) !== undefined, { what: 'the restarted gateway to answer' });
  }, 30_000);

  test('stop() leaves no process, cgroup, folder or sudoers file, and is idempotent', async () => {
    const own = await startSystemManager({ name: 'stop' });
    const ownClient = await clientBin(own, { readers: [who] });
    const run = await own.run('systemd-run', ['--unit=rs-idle', '--collect', 'sleep', '600']);
    expect(run.exitCode, run.stderr).toBe(0);
    const idle = await own.mainPid('rs-idle.service');
    expect(isAlive(idle)).toBe(true);
    await own.stop();
    expect([isAlive(own.pid), isAlive(idle)]).toEqual([false, false]);
    expect([existsSync(own.cgroup), existsSync(own.base), existsSync(ownClient.sudoersFile!)]).toEqual([
      false,
      false,
      false,
    ]);
    await own.stop();
  }, 30_000);

  test('the stale sweep removes what a test process that is gone left', () => {
    const gone = 2 ** 22 + 17; // above pid_max's default: never a live process
    const dir = mkdtempSync(path.join(SYSTEM_MANAGER_HOME, `${SYSTEM_MANAGER_PREFIX}${gone}-x-`));
    const sudoers = path.join('/etc/sudoers.d', path.basename(dir));
    writeFileSync(sudoers, '# stale\n', { mode: 0o440 });
    const cgroup = path.join(path.dirname(sm.cgroup), path.basename(dir));
    mkdirSync(cgroup);
    sweepStaleSystemManagers();
    expect([existsSync(dir), existsSync(sudoers), existsSync(cgroup)]).toEqual([false, false, false]);
    expect(existsSync(sm.base)).toBe(true); // a live test process's manager is left alone
  });
});
