// Issue 30, deliver 2: the gateway under OpenClaw's Ansible role unit, verbatim (User=rs-openclaw, PrivateTmp,
// ProtectSystem=strict, ProtectHome=read-only), on a private systemd system manager (support/system-manager.ts), with
// the fixture gateway's releases switched by our built CLI. The CLI runs where the service runs: inside the manager's
// mount and PID namespaces (its /tmp, its /etc/systemd/system, its PIDs, as on a real machine), as root acting for the
// account, then as the account itself (a root of its own, restarts through the role's sudoers lines). Everything the
// unit or the CLI touches lives outside /tmp (the manager's /tmp is its own; PrivateTmp hides it from the unit): under
// the manager's folder in /var/lib, removed by sm.stop(), or in the account's home, removed after the file.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, inject, test } from 'vitest';
import { type Account, asAccount, normalAccount, processUids, serviceAccount } from '../support/accounts.ts';
import { freePort } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { type SystemManager, startSystemManager } from '../support/system-manager.ts';
import {
  accountSystemctlInside,
  canRunRoleBed,
  cliInside,
  healthOn,
  roleBed,
  openRootsToolHome,
  toolHomeInside,
} from '../support/system-manager-client.ts';

const support = canRunRoleBed();
const PKG = 'rs-fixture-gateway';
const UNIT = 'openclaw.service';

/** Every file and folder below `dir` (itself included), with its owner. */
function tree(dir: string): Array<{ path: string; uid: number }> {
  const out = [{ path: dir, uid: statSync(dir).uid }];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...tree(full));
    else out.push({ path: full, uid: statSync(full).uid });
  }
  return out;
}

describeWhere(support, "root acting for the service account under the role's hardened system unit", () => {
  let sm: SystemManager;
  let who: Account;
  let port: number;
  let node: string;
  let main: string;
  let root: string;
  let state: string;
  let log: string;
  /** `systemctl` for the account's own CLI (the last test's). */
  let insideBin: string | undefined;

  /** The CLI, inside the manager's namespaces, as root (`--root`, `--json`), or as `as` (its own npm under the root's). */
  const rs = (args: string[], as?: Account, at = root) =>
    cliInside(
      sm,
      {
        node,
        main,
        root: at,
        home: as ? path.join(path.dirname(at), 'npm') : path.join(sm.base, 'home-root'),
        as,
        pathFirst: as ? insideBin : undefined,
      },
      args,
    );
  const health = () => healthOn(port);
  /** Root's pinned copy of release-switcher, through its link: what a privileged boot-check runs (src/tool/). */
  const rootsTool = () => path.join(toolHomeInside(path.join(sm.base, 'home-root')), 'current');

  beforeAll(async () => {
    who = serviceAccount();
    sm = await startSystemManager({ name: 'sa-root' });
    ({ port, node, main, root, log } = await roleBed(sm, who, { port: await freePort() }));
    // The account's state, its own files (a folder of this file's under ~/.openclaw, which other tests use too).
    state = path.join(who.home, '.openclaw', `rs-sa-${process.pid}`);
    for (const [file, text] of [
      ['config.json', '{"v":1}\n'],
      ['agents/main/session.json', '{"turns":3}\n'],
    ] as const) {
      mkdirSync(path.dirname(path.join(state, file)), { recursive: true });
      await writeFile(path.join(state, file), text);
    }
    for (const entry of tree(state)) chownSync(entry.path, who.uid, who.gid);
  }, 60_000);
  afterAll(async () => {
    try {
      await sm?.stop();
    } finally {
      if (state) rmSync(state, { recursive: true, force: true });
      rmSync(path.join(who.home, '.local', `rs-sa-${process.pid}`), { recursive: true, force: true });
    }
  }, 30_000);
  beforeEach(({ onTestFailed }) => {
    onTestFailed(async () => {
      const out = existsSync(log) ? readFileSync(log, 'utf8') : '';
      console.error(`--- manager log ---\n${await sm.readLog()}\n--- gateway output ---\n${out}`);
    });
  });

  test('init learns the account from User=, unit writes the drop-in (a privileged boot-check), releases are the account group', async () => {
    const init = await rs([
      ...['init', '--package', PKG, '--registry', inject('registryUrl')],
      ...['--supervisor', 'systemd-system', '--unit', 'openclaw', '--node', node, '--state-path', state],
      ...['--health-url', `http://127.0.0.1:${port}/health`, '--verify-timeout', '15', '--stable-for', '2'],
    ]);
    expect(init.exitCode, init.said).toBe(0);
    expect(JSON.parse(readFileSync(path.join(root, 'config.json'), 'utf8')).serviceUser).toBe(who.name);
    const unit = await rs(['unit', '--install', '--entry', 'server.js', '--arg=--port', '--arg', String(port)]);
    expect(unit.exitCode, unit.said).toBe(0);
    expect(unit.json.result).toMatchObject({ kind: 'drop-in', installed: true });
    const dropIn = readFileSync(path.join(sm.unitDir, `${UNIT}.d`, 'release-switcher.conf'), 'utf8');
    expect(dropIn).toContain(
      `ExecStartPre=-+/usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin NODE_DISABLE_COMPILE_CACHE=1 ${rootsTool()}/node ${rootsTool()}/package/dist/cli/main.js --root ${root} boot-check`,
    );
    expect(dropIn).toContain(`ExecStart=${node} ${root}/current/server.js --port ${port}`);
    expect(dropIn).not.toContain('ReadWritePaths=');
    const releases = path.join(root, 'releases');
    expect([statSync(releases).mode & 0o777, statSync(releases).gid]).toEqual([0o710, who.gid]);
  });

  test('installs 1.0.0 and 1.1.0, switches to each: verified, run as the account', async () => {
    for (const version of ['1.0.0', '1.1.0']) {
      const installed = await rs(['install', `${PKG}@${version}`]);
      expect(installed.exitCode, installed.said).toBe(0);
    }
    for (const version of ['1.0.0', '1.1.0']) {
      const r = await rs(['switch', version]);
      expect(r.exitCode, r.said).toBe(0);
      expect(r.json.result).toMatchObject({ status: 'verified', to: version });
      expect((await health())?.version).toBe(version);
      const pid = await sm.mainPid(UNIT);
      expect(processUids(pid)).toEqual([who.uid, who.uid, who.uid, who.uid]);
    }
    const status = await rs(['status']);
    expect(status.exitCode, status.said).toBe(0);
    expect(status.json.result).toMatchObject({
      current: '1.1.0',
      previous: '1.0.0',
      running: { version: '1.1.0', pid: Number(await sm.show(UNIT, 'MainPID')) }, // the namespace's PID: the CLI's view
      transaction: { status: 'verified', to: '1.1.0' },
      // The privileged (+) boot-check ran as root for the account and recorded that start.
      bootCheck: { atLastStart: 'ran', last: { version: '1.1.0' } },
    });
    // Its record is written as its count of tries is, by root in root's root: root's, 0600.
    const record = statSync(path.join(root, 'boot-check.json'));
    expect([record.uid, record.mode & 0o777]).toEqual([0, 0o600]);
  }, 180_000);

  test('nothing under the root is readable by another account (rs-user)', () => {
    // Below the root, that is: the root folder itself is mkdir's 0755 (its entries' names are listable, not read).
    const [file, argv] = asAccount(normalAccount(), '/usr/bin/find', [root, '-mindepth', '1', '-readable']);
    const found = spawnSync(file, argv, { encoding: 'utf8' });
    expect(found.stdout).toBe('');
  });

  test("update takes a checkpoint of the account's state; rollback restores it, every file still the account's", async () => {
    const back = await rs(['switch', '1.0.0']);
    expect(back.exitCode, back.said).toBe(0);
    const before = tree(state).map((e) => [path.relative(state, e.path), e.uid]);
    const up = await rs(['update', `${PKG}@1.1.0`]);
    expect(up.exitCode, up.said).toBe(0);
    expect(up.json.result).toMatchObject({
      status: 'verified',
      from: '1.0.0',
      to: '1.1.0',
      snapshot: up.json.result.id,
    });
    // 1.1.0 changes the state (as the account would: its files, its owner).
    const [file, argv] = asAccount(who, '/bin/sh', ['-c', `echo '{"v":2}' > config.json && echo x > new.json`]);
    execFileSync(file, argv, { cwd: state });
    const rollback = await rs(['rollback']);
    expect(rollback.exitCode, rollback.said).toBe(0);
    expect(rollback.json.result).toMatchObject({ kind: 'rollback', status: 'verified', to: '1.0.0' });
    // Swapped in by rename inside the state folder, which the hardened unit mounts read-write on its own (a mount point
    // cannot itself be renamed); what 1.1.0 left is kept as a checkpoint.
    expect(rollback.json.result.steps.find((s: { name: string }) => s.name === 'restore-state')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/swapped in by rename.*the state 1\.1\.0 left is kept as checkpoint \S+-aside$/),
    });
    expect(readFileSync(path.join(state, 'config.json'), 'utf8')).toBe('{"v":1}\n');
    expect(existsSync(path.join(state, 'new.json'))).toBe(false);
    expect(tree(state).map((e) => [path.relative(state, e.path), e.uid])).toEqual(before);
    expect(tree(state).filter((e) => e.uid !== who.uid)).toEqual([]);
    expect((await health())?.version).toBe('1.0.0');
    expect(processUids(await sm.mainPid(UNIT))[0]).toBe(who.uid);
  }, 180_000);

  test("the account swaps its state folder for a link to a root-only folder after the checkpoint: root's rollback never touches that folder", async () => {
    // Issue 48: root's rollback used to empty the folder the link named into the checkpoints, fill it with the
    // checkpoint and chown it to the account. Now the boot-check and the runner work on the state as the account.
    const up = await rs(['update', `${PKG}@1.1.0`]);
    expect(up.exitCode, up.said).toBe(0);
    const checkpoint = path.join(root, 'snapshots', up.json.result.id);
    // The checkpoint's copy was written by the account's worker, in a folder only root can reach.
    expect(statSync(path.join(checkpoint, 'data')).uid).toBe(who.uid);
    expect(statSync(path.join(root, 'snapshots')).mode & 0o777).toBe(0o700);
    const target = path.join(sm.base, 'root-only');
    mkdirSync(target, { mode: 0o700 });
    await writeFile(path.join(target, 'secret'), 'root only\n', { mode: 0o600 });
    const seen = () =>
      JSON.stringify([target, path.join(target, 'secret')].map((p) => [p, statSync(p).uid, statSync(p).mode]));
    const before = seen();
    const [file, argv] = asAccount(who, '/bin/sh', ['-c', `mv ${state} ${state}.real && ln -s ${target} ${state}`]);
    execFileSync(file, argv);
    try {
      const rollback = await rs(['rollback']);
      const restore = rollback.json?.result?.steps?.find((s: { name: string }) => s.name === 'restore-state');
      // What the operator reads: the boot-check's restore refused with the account's rights, and why.
      expect(restore, rollback.said).toMatchObject({
        status: 'failed',
        detail: expect.stringMatching(/the boot-check's restore failed \(PERMISSION_DENIED: As rs-openclaw: /),
      });
      expect(seen()).toBe(before);
      expect(readdirSync(target)).toEqual(['secret']);
      expect(readFileSync(path.join(target, 'secret'), 'utf8')).toBe('root only\n');
      expect(existsSync(path.join(root, 'snapshots', `${rollback.json.result.id}-aside`))).toBe(false);
      expect(tree(`${state}.real`).filter((e) => e.uid !== who.uid)).toEqual([]);
    } finally {
      const [undo, undoArgv] = asAccount(who, '/bin/sh', ['-c', `rm ${state} && mv ${state}.real ${state}`]);
      execFileSync(undo, undoArgv);
    }
  }, 180_000);

  test("the account itself, on a root of its own under ~/.local: restarts through the role's sudo line, verified", async () => {
    // Reads of the manager pass through a root helper (any account may read a system unit); changes only through the
    // role's sudoers lines, verbatim: inside the namespaces /usr/bin/systemctl reaches this manager.
    insideBin = await accountSystemctlInside(sm, who);
    const own = path.join(who.home, '.local', `rs-sa-${process.pid}`, 'root');
    for (const dir of [path.dirname(own), path.join(path.dirname(own), 'npm')]) {
      mkdirSync(dir, { recursive: true });
      chownSync(dir, who.uid, who.gid);
    }
    await writeFile(path.join(path.dirname(own), 'npm', 'npmrc'), '');
    const init = await rs(
      [
        ...['init', '--package', PKG, '--registry', inject('registryUrl'), '--supervisor', 'systemd-system'],
        ...[
          '--unit',
          'openclaw',
          '--node',
          node,
          '--health-url',
          `http://127.0.0.1:${port}/health`,
          '--stable-for',
          '2',
        ],
      ],
      who,
      own,
    );
    expect(init.exitCode, init.said).toBe(0);
    const unit = await rs(['unit', '--entry', 'server.js', '--arg=--port', '--arg', String(port)], who, own);
    expect(unit.exitCode, unit.said).toBe(0);
    expect(unit.json.result.content).toContain(`ReadWritePaths=-${own}\n`);
    // The account's own pinned copy of release-switcher (its default tool home under its HOME), never npm's path.
    const accountsTool = path.join(who.home, '.local', 'share', 'release-switcher-tool', 'current');
    expect(unit.json.result.content).toContain(
      `ExecStartPre=-${accountsTool}/node ${accountsTool}/package/dist/cli/main.js --root ${own} boot-check`,
    );
    // /etc/systemd/system is root's: the account may not install it, and says to run it as root, once. Root's drop-in
    // for the account's own root is the account's: its boot-check and hold run as the account, in the sandbox.
    const denied = await rs(
      ['unit', '--install', '--entry', 'server.js', '--arg=--port', '--arg', String(port)],
      who,
      own,
    );
    expect(denied.exitCode, denied.said).not.toBe(0);
    expect(denied.json.error).toMatchObject({ code: 'PERMISSION_DENIED', hint: expect.stringContaining('sudo') });
    const install = () =>
      rs(['unit', '--install', '--entry', 'server.js', '--arg=--port', '--arg', String(port)], undefined, own);
    // Root's tool home here is inside root's own closed folder: the account's boot-check could not run it, and would
    // fail at every start behind its `-`. Refused, naming the path, before anything is written.
    const closed = await install();
    expect(closed.exitCode, closed.said).toBe(1);
    expect(closed.json.error).toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringContaining(
        `${who.name} (the root is its own) and cannot reach release-switcher's pinned copy`,
      ),
      hint: expect.stringContaining('/var/lib/release-switcher/tool'),
    });
    // Made reachable as the default /var/lib/release-switcher/tool is (root's, 0755 up to /): installed.
    openRootsToolHome(path.join(sm.base, 'home-root'));
    const byRoot = await install();
    expect(byRoot.exitCode, byRoot.said).toBe(0);
    // The same drop-in the account printed, but for the command its boot-check runs: root's pinned copy of
    // release-switcher (root's files, which the account may run and not change), not the account's, which root would
    // have to make as the account. The record below shows that boot-check ran, as the account.
    expect(byRoot.json.result).toMatchObject({
      kind: 'drop-in',
      installed: true,
      content: unit.json.result.content.replaceAll(accountsTool, rootsTool()),
    });
    expect(execFileSync('find', [own, '-uid', '0'], { encoding: 'utf8' })).toBe(''); // nothing of root's left in it
    for (const version of ['1.0.0', '1.1.0']) {
      const installed = await rs(['install', `${PKG}@${version}`], who, own);
      expect(installed.exitCode, installed.said).toBe(0);
      const r = await rs(['switch', version], who, own);
      expect(r.exitCode, r.said).toBe(0);
      expect(r.json.result).toMatchObject({ status: 'verified', to: version });
      expect((await health())?.version).toBe(version);
      const pid = await sm.mainPid(UNIT); // the account may change the unit only through sudo: it was restarted so
      expect(processUids(pid)[0]).toBe(who.uid);
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(`${own}/current/server.js`);
    }
    // On the account's own root its boot-check runs as the account: its record is the account's, 0600.
    const record = statSync(path.join(own, 'boot-check.json'));
    expect([record.uid, record.mode & 0o777]).toEqual([who.uid, 0o600]);
  }, 180_000);
});
