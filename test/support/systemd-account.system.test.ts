// Proves the private `systemd --user` harness owned by a test account (issue 30: the suite runs the CLI and the
// service as the accounts our users run them as): the manager, its units and its transient units run as that account,
// in a cgroup delegated to it, with a HOME of its own, and stop() leaves nothing of them behind.
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, onTestFinished, test } from 'vitest';
import { type Account, canUseAccounts, normalAccount, serviceAccount } from './accounts.ts';
import { runnableBy } from './cli.ts';
import { managedGateway } from './service.ts';
import { describeWhere } from './skip.ts';
import { canRunUserManager, isAlive, startUserManager, type UserManager } from './systemd.ts';

const manager = canRunUserManager();
const support = manager.ok ? canUseAccounts() : { ...manager, where: 'in CI, which runs the suite as root on Linux' };

/** The real, effective, saved and filesystem uids of a live process (the `Uid:` line of /proc/PID/status). */
async function uids(pid: number): Promise<number[]> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return /^Uid:\s+(.*)$/m.exec(status)![1]!.trim().split(/\s+/).map(Number);
}

/** A property of `unit`, or of the manager itself when `unit` is ''. */
async function show(um: UserManager, unit: string, property: string): Promise<string> {
  const r = await um.systemctl(['show', ...(unit ? [unit] : []), `--property=${property}`, '--value']);
  expect(r.exitCode, r.stderr).toBe(0);
  return r.stdout.trim();
}

async function mainPid(um: UserManager, unit: string): Promise<number> {
  await um.waitFor(async () => Number(await show(um, unit, 'MainPID')) > 0, { what: `${unit} to run` });
  return Number(await show(um, unit, 'MainPID'));
}

describeWhere(support, 'private systemd --user manager owned by a test account', () => {
  let user: Account;
  let um: UserManager;

  beforeAll(async () => {
    user = normalAccount();
    um = await startUserManager({ name: 'account', account: user });
  }, 30_000);
  afterAll(() => um?.stop(), 30_000);
  beforeEach(({ onTestFailed }) => {
    onTestFailed(async () => console.error(`--- manager log ---\n${await um.readLog()}`));
  });

  test('boots to running as the account, in a cgroup named user@<its uid>.service, logging through the kmsg FIFO', async () => {
    expect(um.account).toEqual(user);
    expect(await show(um, '', 'SystemState')).toBe('running');
    expect(await uids(um.pid)).toEqual([user.uid, user.uid, user.uid, user.uid]);
    expect(await show(um, '', 'ControlGroup')).toMatch(new RegExp(`/user@${user.uid}\\.service$`));
    const failed = await um.systemctl(['list-units', '--failed', '--plain', '--no-legend']);
    expect(failed.stdout.trim()).toBe('');
    expect(await um.readLog()).toMatch(/Startup finished/);
  });

  test('reports the HOME made for the account in the manager Environment; its folders are the account own', async () => {
    const environment = (await show(um, '', 'Environment')).split(/\s+/);
    expect(environment).toContain(`HOME=${um.env.HOME}`);
    expect(environment).toContain(`XDG_RUNTIME_DIR=${um.env.XDG_RUNTIME_DIR}`);
    for (const key of [
      'HOME',
      'XDG_RUNTIME_DIR',
      'XDG_CONFIG_HOME',
      'XDG_DATA_HOME',
      'XDG_STATE_HOME',
      'XDG_CACHE_HOME',
    ])
      expect(statSync(um.env[key]!).uid, key).toBe(user.uid);
    expect(statSync(um.unitDir).uid).toBe(user.uid);
    expect(statSync(um.env.XDG_RUNTIME_DIR!).mode & 0o777).toBe(0o700);
  });

  test('a unit it starts runs with the account uid; the unit file is the account own', async () => {
    await um.writeUnit('rs-idle.service', '[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=sleep 600\n');
    expect(statSync(path.join(um.unitDir, 'rs-idle.service')).uid).toBe(user.uid);
    const start = await um.systemctl(['start', 'rs-idle.service']);
    expect(start.exitCode, start.stderr).toBe(0);
    expect(await uids(await mainPid(um, 'rs-idle.service'))).toEqual([user.uid, user.uid, user.uid, user.uid]);
  });

  test('a unit whose command names a file the account cannot reach is refused before it starts, with the path, the account and the mode', async () => {
    // A checkout in a private folder (a clone under /root, a `mktemp -d`): root reads it, the account does not.
    const closed = mkdtempSync(path.join(tmpdir(), 'rs-closed-'));
    onTestFinished(() => rmSync(closed, { recursive: true, force: true }));
    const script = path.join(closed, 'server.js');
    writeFileSync(script, 'setInterval(() => {}, 1000);\n');
    const unit = (file: string) => `[Service]\nExecStart=${process.execPath} ${file}\n`;
    await expect(um.writeUnit('rs-closed.service', unit(script))).rejects.toThrow(
      `rs-closed.service: ${user.name} (uid ${user.uid}) cannot reach ${script}: ${closed} (mode 0700, owner uid 0 gid 0) is closed to it`,
    );
    expect(existsSync(path.join(um.unitDir, 'rs-closed.service'))).toBe(false);
    // Control: once the folder lets the account through, the same unit is written and runs as the account.
    chmodSync(closed, 0o755);
    await um.writeUnit('rs-closed.service', unit(script));
    expect((await um.systemctl(['start', 'rs-closed.service'])).exitCode).toBe(0);
    expect(await uids(await mainPid(um, 'rs-closed.service'))).toEqual([user.uid, user.uid, user.uid, user.uid]);
    await um.systemctl(['stop', 'rs-closed.service']);
  });

  test('systemd-run --user --collect works as the account, and its unit outlives the unit that ran it', async () => {
    const outside = await um.run('systemd-run', ['--user', '--unit=rs-outside', '--collect', 'sleep', '600']);
    expect(outside.exitCode, outside.stderr).toBe(0);
    expect((await uids(await mainPid(um, 'rs-outside.service')))[0]).toBe(user.uid);

    // The runner's case: a service (the gateway) starts a transient unit, which then stops that service.
    const launcher = 'systemd-run --user --unit=rs-runner --collect sleep 600 && exec sleep 600';
    await um.writeUnit('rs-launcher.service', `[Service]\nExecStart=/bin/sh -c '${launcher}'\n`);
    expect((await um.systemctl(['start', 'rs-launcher.service'])).exitCode).toBe(0);
    const runner = await mainPid(um, 'rs-runner.service');
    expect((await uids(runner))[0]).toBe(user.uid);
    expect(await show(um, 'rs-runner.service', 'ControlGroup')).toMatch(/\/app\.slice\/rs-runner\.service$/);
    const before = await mainPid(um, 'rs-launcher.service');
    expect((await um.systemctl(['stop', 'rs-launcher.service'])).exitCode).toBe(0);
    await um.waitFor(() => !isAlive(before), { what: 'the launcher to stop' });
    expect(isAlive(runner)).toBe(true);
    expect(await show(um, 'rs-runner.service', 'ActiveState')).toBe('active');
  }, 30_000);

  test('the CLI run as the account with the manager env switches a unit of this manager, which runs as the account', async () => {
    // managedGateway runs the CLI as cli(args, { as: um.account, env: um.env }) on a root the account owns.
    const gw = await managedGateway(um, { name: 'rs-acct-gw', stableFor: 1 });
    for (const version of ['1.1.0', '1.2.0']) {
      const installed = await gw.rs(['install', `rs-fixture-gateway@${version}`]);
      expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
    }
    expect(statSync(path.join(gw.root, 'releases', '1.2.0')).uid).toBe(user.uid);
    for (const version of ['1.1.0', '1.2.0']) {
      const r = await gw.rs(['switch', version]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.json.result).toMatchObject({ status: 'verified', to: version });
      expect((await gw.health())?.version).toBe(version);
    }
    expect((await uids(await mainPid(um, gw.unit)))[0]).toBe(user.uid);
  }, 120_000);

  test('stop() leaves no process, no cgroup and no folder of a service account manager', async () => {
    const service = serviceAccount();
    const own = await startUserManager({ name: 'acct-stop', account: service });
    const script = path.join(own.root, 'stubborn.cjs');
    const ready = path.join(own.root, 'stubborn.ready');
    // Written by the unit (as the account) into the account's folder; ignores SIGTERM once it says it is ready.
    await writeFile(
      script,
      `process.on('SIGTERM', () => {});\nrequire('node:fs').writeFileSync(${JSON.stringify(ready)}, '');\nsetInterval(() => {}, 1 << 30);\n`,
    );
    await own.writeUnit('rs-stubborn.service', `[Service]\nExecStart=${runnableBy(service).node} ${script}\n`);
    expect((await own.systemctl(['start', 'rs-stubborn.service'])).exitCode).toBe(0);
    await own.waitFor(() => existsSync(ready), { what: 'rs-stubborn to ignore SIGTERM' });
    expect(statSync(ready).uid).toBe(service.uid);
    const pids = await own.pids();
    expect(pids).toContain(Number(await show(own, 'rs-stubborn.service', 'MainPID')));

    await own.stop();
    expect(pids.filter(isAlive)).toEqual([]);
    for (const cg of own.cgroups) expect(existsSync(path.dirname(cg)), cg).toBe(false);
    expect(existsSync(own.root)).toBe(false);
  }, 30_000);
});
