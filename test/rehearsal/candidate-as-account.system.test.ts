// Issue 48 item 2: root rehearsing a release for the service account never runs the candidate as root, and never takes
// its environment from a process the account owns. On a private systemd system manager with OpenClaw's Ansible role
// unit (User=rs-openclaw), the CLI as root acting for the account (the case is about root: root's `switch`), the
// fixture gateway's 1.1.0 rehearsed before each switch. The attacker is the service account with its own rights only:
// it rewrites its running gateway's environment through /proc/<pid>/mem (same uid) to add
// NODE_OPTIONS=--require=<its file>, which writes a mark with the uid it runs as. The control: the same NODE_OPTIONS put
// in the unit's definition by root (a drop-in) reaches the candidate, which then marks the account's uid, not 0.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, inject, test } from 'vitest';
import { type Account, asAccount, serviceAccount } from '../support/accounts.ts';
import { freePort } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { type SystemManager, startSystemManager } from '../support/system-manager.ts';
import { canRunRoleBed, cliInside, roleBed } from '../support/system-manager-client.ts';

const support = canRunRoleBed();
const PKG = 'rs-fixture-gateway';
const UNIT = 'openclaw.service';

/**
 * The account's script: its uid, groups and whether it is a rehearsal's candidate, appended to `marks` beside it; a
 * candidate also writes into its private copy of the state ({state}, as RS_STATE) and tells who owns the copied file.
 */
const MARK = `const fs = require('node:fs');
const path = require('node:path');
const dir = process.env.RS_STATE;
let state = '';
if (process.env.RELEASE_SWITCHER_PREFLIGHT && dir) {
  try {
    fs.writeFileSync(path.join(dir, 'written-by-candidate'), 'x');
    state = ' state=written owner=' + fs.statSync(path.join(dir, 'config.json')).uid;
  } catch (error) {
    state = ' state=' + error.code;
  }
}
fs.appendFileSync(path.join(__dirname, 'marks'), (process.env.RELEASE_SWITCHER_PREFLIGHT ? 'candidate' : 'other') +
  ' uid=' + process.getuid() + ' gid=' + process.getgid() + ' groups=' + process.getgroups().join(',') +
  ' file=' + (process.env.RS_FROM_ROOT_FILE || 'none') + ' secret=' + (process.env.RS_SECRET || 'none') + state + '\\n');
`;

/**
 * Run as the account on the host: rewrite process `pid`'s environment block in place (/proc/<pid>/mem; the kernel lets
 * a process's own uid do it) so /proc/<pid>/environ starts with `add`; what no longer fits is dropped.
 */
const REWRITE = `const fs = require('node:fs');
const [pid, add] = process.argv.slice(2);
const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
const start = Number(fields[47]), end = Number(fields[48]); // env_start, env_end: stat fields 50 and 51
const entries = fs.readFileSync('/proc/' + pid + '/environ', 'utf8').split('\\0').filter((e) => e && !e.startsWith('INVOCATION_ID='));
let text = add + '\\0';
for (const e of entries) if (Buffer.byteLength(text + e + '\\0') <= end - start) text += e + '\\0';
const block = Buffer.alloc(end - start);
block.write(text);
const fd = fs.openSync('/proc/' + pid + '/mem', 'r+');
fs.writeSync(fd, block, 0, block.length, start);
fs.closeSync(fd);
`;

describeWhere(support, "root's rehearsal for the service account, under the role's system unit", () => {
  let sm: SystemManager;
  let who: Account;
  let port: number;
  let node: string;
  let main: string;
  let root: string;
  let log: string;
  /** The account's own folder (in its ~/.local, which the role's unit may write): its scripts and their marks. */
  let own: string;
  /** The account's state (a folder of this file's under ~/.openclaw): what the rehearsal copies privately. */
  let state: string;

  const rs = (args: string[]) => cliInside(sm, { node, main, root, home: path.join(sm.base, 'home-root') }, args);
  const marks = () => (existsSync(path.join(own, 'marks')) ? readFileSync(path.join(own, 'marks'), 'utf8') : '');
  const environOf = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  /** `switch VERSION` by root, verified, its rehearsal ok; the rehearsal's step. */
  const rehearsedSwitch = async (version: string) => {
    const r = await rs(['switch', version]);
    expect(r.exitCode, r.said).toBe(0);
    expect(r.json.result).toMatchObject({ status: 'verified', to: version });
    const step = r.json.result.steps.find((s: { name: string }) => s.name === 'preflight');
    expect(step, r.said).toMatchObject({ status: 'ok' });
    return step;
  };

  beforeAll(async () => {
    who = serviceAccount();
    sm = await startSystemManager({ name: 'cand-acct' });
    ({ port, node, main, root, log } = await roleBed(sm, who, { port: await freePort() }));
    own = path.join(who.home, '.local', `rs-ca-${process.pid}`);
    mkdirSync(own, { recursive: true, mode: 0o755 });
    writeFileSync(path.join(own, 'p.cjs'), MARK);
    writeFileSync(path.join(own, 'rewrite.cjs'), REWRITE);
    state = path.join(who.home, '.openclaw', `rs-ca-${process.pid}`);
    mkdirSync(path.join(state, 'agents'), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(state, 'config.json'), '{"v":1}\n');
    for (const entry of [own, path.join(own, 'p.cjs'), path.join(own, 'rewrite.cjs'), state])
      execFileSync('chown', ['-R', `${who.uid}:${who.gid}`, entry]);
    const init = await rs([
      ...['init', '--package', PKG, '--registry', inject('registryUrl')],
      ...['--supervisor', 'systemd-system', '--unit', 'openclaw', '--node', node],
      ...['--health-url', `http://127.0.0.1:${port}/health`, '--verify-timeout', '15', '--stable-for', '1'],
      ...['--preflight', 'server.js --port {port}', '--preflight-for', '1', '--preflight-env', 'RS_STATE={state}'],
      ...['--state-path', state],
    ]);
    expect(init.exitCode, init.said).toBe(0);
    const unit = await rs(['unit', '--install', '--entry', 'server.js', '--arg=--port', '--arg', String(port)]);
    expect(unit.exitCode, unit.said).toBe(0);
    for (const version of ['1.0.0', '1.1.0', '1.2.0']) {
      const installed = await rs(['install', `${PKG}@${version}`]);
      expect(installed.exitCode, installed.said).toBe(0);
    }
    const first = await rs(['switch', '1.0.0']);
    expect(first.exitCode, first.said).toBe(0);
  }, 180_000);
  afterAll(async () => {
    try {
      await sm?.stop();
    } finally {
      for (const dir of [own, state]) if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
  beforeEach(({ onTestFailed }) => {
    onTestFailed(async () => {
      const out = existsSync(log) ? readFileSync(log, 'utf8') : '';
      console.error(
        `--- manager log ---\n${await sm.readLog()}\n--- gateway output ---\n${out}\n--- marks ---\n${marks()}`,
      );
    });
  });

  test("the account's forged environment in its running gateway reaches nothing root starts: no mark at all", async () => {
    rmSync(path.join(own, 'marks'), { force: true });
    const pid = await sm.mainPid(UNIT);
    const forged = `NODE_OPTIONS=--require=${path.join(own, 'p.cjs')}`;
    const [file, argv] = asAccount(who, node, [path.join(own, 'rewrite.cjs'), String(pid), forged]);
    execFileSync(file, argv, { env: { PATH: '/usr/bin:/bin' } });
    expect(environOf(pid)).toContain(forged); // what the account made its process show
    expect(await sm.mainPid(UNIT)).toBe(pid);
    const step = await rehearsedSwitch('1.1.0');
    expect(step.evidence.environment).toMatch(/^unit openclaw \(User=rs-openclaw\): its definition$/);
    expect(marks()).toBe(''); // before: "candidate uid=0", the account's file run as root
  }, 180_000);

  test("control: the same NODE_OPTIONS in the unit's definition reaches the candidate, which runs as the account", async () => {
    // Root's environment file in a root-only folder (read by root, O_NOFOLLOW), and the account's own optional one,
    // which the account made a link to a root-only file: read as the account, so its secret stays out.
    const rootOnly = path.join(sm.base, 'env-test');
    mkdirSync(rootOnly, { mode: 0o700 });
    writeFileSync(path.join(rootOnly, 'gateway.env'), 'RS_FROM_ROOT_FILE=yes\n', { mode: 0o600 });
    writeFileSync(path.join(rootOnly, 'secret.env'), 'RS_SECRET=root-only\n', { mode: 0o600 });
    const planted = path.join(own, 'planted.env');
    const [ln, lnArgs] = asAccount(who, '/bin/ln', ['-sfn', path.join(rootOnly, 'secret.env'), planted]);
    execFileSync(ln, lnArgs);
    // An operator's drop-in (root's): the live gateway gets it at its next start, and every rehearsal from now on.
    await sm.writeDropIn(
      UNIT,
      '50-test-node-options',
      `[Service]\nEnvironment=NODE_OPTIONS=--require=${path.join(own, 'p.cjs')}\n` +
        `EnvironmentFile=${path.join(rootOnly, 'gateway.env')}\nEnvironmentFile=-${planted}\n`,
    );
    rmSync(path.join(own, 'marks'), { force: true });
    try {
      await rehearsedSwitch('1.2.0'); // never verified here: rehearsed
    } finally {
      rmSync(path.join(sm.unitDir, `${UNIT}.d`, '50-test-node-options.conf'), { force: true });
      await sm.systemctl(['daemon-reload']);
    }
    const candidates = marks()
      .split('\n')
      .filter((line) => line.startsWith('candidate'));
    const groups = execFileSync('id', ['-G', who.name], { encoding: 'utf8' }).trim().split(' ').sort().join(',');
    expect(candidates.length, marks()).toBeGreaterThan(0);
    for (const line of candidates) {
      const [, uid, gid, seen, file, secret, copy] =
        /^candidate uid=(\d+) gid=(\d+) groups=(\S*) file=(\S+) secret=(\S+) (.*)$/.exec(line) ?? [];
      expect([Number(uid), Number(gid)], line).toEqual([who.uid, who.gid]);
      expect([file, secret], line).toEqual(['yes', 'none']); // root's file read; the account's link not followed as root
      expect(seen!.split(',').sort().join(','), line).toBe(groups); // its supplementary groups, none of root's
      // Its private copy of the state is the account's: it writes there, its copied files are its own.
      expect(copy, line).toBe(`state=written owner=${who.uid}`);
    }
    // The rehearsal's folder is gone (the account's copy removed by the account, the rest by root); the live state
    // never saw the candidate's write.
    expect(readdirSync(path.join(root, 'preflight'))).toEqual([]);
    expect(existsSync(path.join(state, 'written-by-candidate'))).toBe(false);
  }, 180_000);
});
