// The tool's own installation moved or removed under a unit (issue 53): `npm install -g` into a new prefix, an nvm
// upgrade that removes the old Node. Under a real private `systemd --user` of the default test account (the normal
// account when the suite runs as root): a unit installed by `unit --install` keeps running release-switcher's pinned
// copy after the installation and its Node are gone, and doctor says so; a unit of the old style (the boot-check names
// npm's path) is found out by doctor's `tool` check and pointed at the pinned copy by `doctor --fix`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CheckResult as DoctorCheck } from '../../src/doctor/checks.ts';
import { asAccount } from '../support/accounts.ts';
import { accountCliEnv, type CliResult, cliEnv, runnableBy, tempDir } from '../support/cli.ts';
import { type ManagedGateway, managedGateway } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { SCHEMA_RELEASES } from '../support/fixtures.ts';
import { installPrefix } from '../support/tool-home.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';

const can = canRunUserManager();
const { old: OLD, new: NEW } = SCHEMA_RELEASES;
const REPO = path.resolve(import.meta.dirname, '../..');
const check = (r: CliResult, name: string) =>
  ((r.json?.result?.checks ?? []) as DoctorCheck[]).find((c) => c.name === name);

describeWhere(can, "the tool's installation moved away under the unit", () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  /** An installation of our own, as `npm install -g` into a prefix leaves it: its Node and its package, both to be removed. */
  let prefix: string;
  let node: string;
  let main: string;

  beforeAll(async () => {
    manager = await startUserManager({ name: 'tool-moved' });
    prefix = path.join(tempDir('rs-prefix-', manager.account), 'prefix');
    const from = manager.account ? runnableBy(manager.account) : { node: process.execPath, packageDir: REPO };
    ({ node, main } = installPrefix(prefix, from, manager.account));
    // The unit of the old style: its boot-check names this installation's own path.
    gw = await managedGateway(manager, {
      name: 'rs-gw-tool',
      stableFor: 1,
      bootCheck: (command) => [node, main, ...command.slice(2)],
      // The service's own Node is configured apart (--node): only the tool's commands are at stake here.
      init: ['--node', from.node],
    });
    for (const v of ['1.0.0']) expect((await gw.rs(['install', `rs-fixture-gateway@${v}`])).exitCode).toBe(0);
    expect((await gw.rs(['switch', '1.0.0'])).json.result.status).toBe('verified');
  }, 180_000);
  afterAll(async () => manager?.stop());

  /** `release-switcher ARGS` run from the installation in `prefix` (its Node and its CLI), as the manager's account. */
  const fromPrefix = (args: string[]) => fromInstallation({ node, main }, gw.root, args);

  /**
   * The boot-check at a restart, as the manager saw it: the words, the exit status and whether it was started this time
   * (a new pid). A `-` command whose program is missing is recorded the same way, exited 0: only the manager's log says
   * it was skipped (see the assertions on readLog).
   */
  let lastPid = '';
  async function lastBootCheck(): Promise<{ argv: string; status: string; started: boolean }> {
    await manager.systemctl(['restart', gw.unit]);
    await manager.waitFor(async () => (await gw.health())?.status === 200, { timeoutMs: 20_000 });
    const shown = (await manager.systemctl(['show', gw.unit, '--property=ExecStartPre', '--value'])).stdout;
    const entry = shown.split(/(?=\{ path=)/).find((e) => e.includes('boot-check'))!;
    const pid = /pid=(\d+)/.exec(entry)?.[1] ?? '';
    const started = pid !== '' && pid !== lastPid;
    lastPid = pid;
    return { argv: /argv\[\]=([^;]*)/.exec(entry)![1]!.trim(), status: /status=([^ ;}]*)/.exec(entry)![1]!, started };
  }

  it('an old-style unit whose boot-check names a moved npm path: doctor fails the tool check, doctor --fix repoints it', async () => {
    // Control: in place, the old-style boot-check runs and exits 0.
    expect(await lastBootCheck()).toMatchObject({ argv: expect.stringContaining(main), status: '0', started: true });
    const moved = `${prefix}-moved`;
    renameSync(prefix, moved);
    try {
      // What the issue saw: the `-` prefix hides it, the service starts, the boot-check failed (MODULE_NOT_FOUND).
      // systemd records a `-` command whose program is missing as exited 0 and says so only in its own log.
      await lastBootCheck();
      expect(await manager.readLog()).toContain(`Executable ${node} missing, skipping`);
      const doctor = await gw.rs(['doctor']);
      expect(doctor.exitCode).toBe(1);
      expect(check(doctor, 'tool')).toMatchObject({
        ok: false,
        detail: expect.stringMatching(
          /ExecStartPre runs .*main\.js: .* is not there .*Fix: release-switcher doctor --fix/,
        ),
      });
      const fixed = await gw.rs(['doctor', '--fix']);
      const home = accountToolHome();
      expect(check(fixed, 'tool')).toMatchObject({ fixed: expect.stringContaining(`at ${home}/current`) });
      const after = await lastBootCheck();
      expect(after).toEqual({
        argv: expect.stringContaining(
          `${home}/current/node ${home}/current/package/dist/cli/main.js --root ${gw.root} boot-check`,
        ),
        status: '0',
        started: true,
      });
      expect(await manager.readLog()).not.toContain(`Executable ${home}/current/node missing`);
      expect(check(await gw.rs(['doctor']), 'tool')).toMatchObject({ ok: true });
    } finally {
      renameSync(moved, prefix);
    }
  });

  it('unit --install from an installation that is then removed with its Node: the boot-check still runs, doctor is ok', async () => {
    const installed = await fromPrefix([
      'unit',
      '--install',
      '--entry',
      'server.js',
      '--arg=--port',
      `--arg=${gw.port}`,
    ]);
    expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
    const home = accountToolHome();
    expect(installed.json.result.content).toContain(
      `ExecStartPre=-${home}/current/node ${home}/current/package/dist/cli/main.js --root ${gw.root} boot-check`,
    );
    expect(installed.json.result.content).not.toContain(prefix);
    // nvm uninstall + npm uninstall -g: the Node and the package that wrote the unit are gone.
    execFileSync('rm', ['-rf', prefix]);
    expect(await lastBootCheck()).toMatchObject({
      argv: expect.stringContaining(`${home}/current/node`),
      status: '0',
      started: true,
    });
    expect(await manager.readLog()).not.toContain(`Executable ${home}/current/node missing`);
    const doctor = await gw.rs(['doctor']);
    expect(check(doctor, 'tool')).toMatchObject({
      ok: true,
      detail: expect.stringContaining(`${gw.unit} ExecStartPre run release-switcher's pinned copy (${home})`),
    });
  });

  it(`the issue's sequence with the pinned copy: unit --install, the installation and its Node removed, switch ${NEW} across a migration takes its checkpoint, rollback brings schema 17 back`, async () => {
    // A gateway of its own with state that the newer release migrates (schema 17 → 18), and an installation of its own.
    const stateDir = path.join(manager.root, 'moved-state');
    const migrating = await managedGateway(manager, {
      name: 'rs-gw-tool-state',
      stableFor: 1,
      init: [
        '--node',
        nodeOfService(),
        '--state-path',
        path.join(stateDir, 'state.db'),
        '--schema-field',
        'rsFixture.schemaVersions',
      ],
      environment: { STATE_DIR: stateDir },
    });
    for (const v of [OLD, NEW]) expect((await migrating.rs(['install', `rs-fixture-gateway@${v}`])).exitCode).toBe(0);
    expect((await migrating.rs(['switch', OLD])).json.result.status).toBe('verified');
    const second = path.join(tempDir('rs-prefix-', manager.account), 'prefix');
    const from = manager.account ? runnableBy(manager.account) : { node: process.execPath, packageDir: REPO };
    const installation = installPrefix(second, from, manager.account);
    const installed = await fromInstallation(installation, migrating.root, [
      'unit',
      '--install',
      '--entry',
      'server.js',
      '--arg=--port',
      `--arg=${migrating.port}`,
    ]);
    expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
    // unit --install regenerated the whole unit of ours from the root's settings; the service's own environment is the
    // operator's, in a drop-in of its own beside it, as a user keeps it.
    const dropIns = `${installed.json.result.path}.d`;
    mkdirSync(dropIns, { recursive: true });
    writeFileSync(path.join(dropIns, 'state.conf'), `[Service]\nEnvironment=STATE_DIR=${stateDir}\n`);
    if (manager.account) execFileSync('chown', ['-R', `${manager.account.uid}:${manager.account.gid}`, dropIns]);
    await manager.systemctl(['daemon-reload']);
    await manager.systemctl(['restart', migrating.unit]);
    await manager.waitFor(async () => (await migrating.health())?.status === 200, { timeoutMs: 20_000 });
    // A Node upgrade with nvm (the old one uninstalled), npm uninstall -g: the tool that wrote the unit is gone.
    execFileSync('rm', ['-rf', second]);
    const db = () => JSON.parse(readFileSync(path.join(stateDir, 'state.db'), 'utf8'));
    expect(db().schema).toBe(17);
    const up = await migrating.rs(['switch', NEW]);
    expect(up.json?.result, up.stdout + up.stderr).toMatchObject({ status: 'verified', snapshot: up.json?.result?.id });
    expect(db().schema).toBe(18);
    const back = await migrating.rs(['rollback']);
    expect(back.json?.result, back.stdout + back.stderr).toMatchObject({ status: 'verified', to: OLD });
    expect(db().schema).toBe(17);
    expect((await migrating.rs(['status'])).json.result.bootCheck).toMatchObject({ atLastStart: 'ran' });
  }, 300_000);

  /** `release-switcher ARGS` run from `installation` (its Node and its CLI) on `root`, as the manager's account. */
  async function fromInstallation(
    installation: { node: string; main: string },
    root: string,
    args: string[],
  ): Promise<CliResult> {
    const words = [installation.main, '--root', root, '--json', ...args];
    const [file, argv] = manager.account
      ? asAccount(manager.account, installation.node, words)
      : [installation.node, words];
    const env = manager.account ? accountCliEnv(manager.account, managerEnv()) : cliEnv(managerEnv());
    // Run from the root, a folder of the account's: the test's working folder (the checkout) may be closed to it.
    const r = await execa(file, argv, { env, extendEnv: false, reject: false, timeout: 120_000, cwd: root });
    let json: any;
    try {
      json = JSON.parse(r.stdout);
    } catch {}
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, json };
  }
  const nodeOfService = () => (manager.account ? runnableBy(manager.account).node : process.execPath);

  const managerEnv = () =>
    Object.fromEntries(Object.entries(manager.env).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const accountToolHome = () => managerEnv().RELEASE_SWITCHER_TOOL_HOME!;
});
