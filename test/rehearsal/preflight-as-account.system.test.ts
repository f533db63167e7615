// Issue 48 item 2, the rehearsal itself (a process group: pm2's and none's way; the system unit's way is
// candidate-as-account.system.test.ts): root rehearsing for the service account starts the candidate with that account's
// uid, gid and groups, never its own; the private copy root made of the account's state is handed to the account (the
// candidate migrates it), and the rehearsal's folder is gone afterwards, the account's part removed by the account.
// About root (it acts for the account), so it runs as root; the live state is the service account's own.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { runPreflight, type PreflightRecord } from '../../src/rehearsal/preflight.ts';
import { copyStatePrivately } from '../../src/snapshot/private-copy.ts';
import { type Account, accountTempDir, canUseAccounts, reachableBy, serviceAccount } from '../support/accounts.ts';
import { cli } from '../support/cli.ts';
import { describeWhere } from '../support/skip.ts';
import { candidate, pidAlive, snapshotBytes } from './preflight-support.ts';

const support = canUseAccounts();

describeWhere(support, 'a rehearsal root runs for the service account (process group)', () => {
  let who: Account;
  let root: string;
  let live: string;
  /** An account folder with the script every candidate here loads (NODE_OPTIONS): it writes its ids to `ids`. */
  let marks: string;
  const ids = () => readFileSync(join(marks, 'ids'), 'utf8').trim();

  beforeAll(async () => {
    marks = accountTempDir(serviceAccount(), 'rs-pfacct-marks-');
    await writeFile(
      join(marks, 'mark.cjs'),
      "require('node:fs').writeFileSync(require('node:path').join(__dirname, 'ids'), [process.getuid(), process.geteuid(), process.getgid(), process.getegid()].join(' ') + '|' + process.getgroups().sort().join(' '));\n",
    );
    chmodSync(join(marks, 'mark.cjs'), 0o644);
    who = serviceAccount();
    live = accountTempDir(who, 'rs-pfacct-live-'); // the account's state: its folder, its file
    await writeFile(join(live, 'state.db'), `${JSON.stringify({ schema: 17, migrations: [], starts: ['4.0.0'] })}\n`);
    execFileSync('chown', ['-R', `${who.uid}:${who.gid}`, live]);
    root = await mkdtemp(join(tmpdir(), 'rs-pfacct-root-')); // root's: passable to the service as a real root is
    chmodSync(root, 0o711);
  });
  afterAll(async () => {
    spawnSync('chattr', ['-R', '-f', '-i', root]); // releases root installed are immutable
    await rm(root, { recursive: true, force: true });
    await rm(live, { recursive: true, force: true });
    await rm(marks, { recursive: true, force: true });
  });

  it('runs the candidate as the account, on a copy of the state handed to it, and leaves nothing', async () => {
    expect(reachableBy(who, process.execPath), `${process.execPath} must be runnable by ${who.name}`).toBe(true);
    const releaseDir = await candidate(root, '4.1.0', { schema: 18 }); // migrates {state}/state.db: it must write
    const before = await snapshotBytes(live);
    const records: PreflightRecord[] = [];
    const result = await runPreflight({
      node: process.execPath,
      args: ['server.js', '--port', '{port}'],
      env: { STATE_DIR: '{state}', NODE_OPTIONS: `--require=${join(marks, 'mark.cjs')}` },
      baseEnv: { PATH: '/usr/bin:/bin', HOME: who.home },
      releaseDir,
      expectedVersion: '4.1.0',
      healthUrl: 'http://gateway.example:18789/health',
      versionField: 'version',
      verifyTimeoutMs: 5_000,
      holdMs: 1_000,
      copyState: (dir) => copyStatePrivately([live], dir),
      workRoot: join(root, 'preflight'),
      isolation: { kind: 'group' },
      onRecord: async (record) => void records.push(record),
      as: who,
    });
    expect(result, result.outputTail).toMatchObject({ ok: true }); // it migrated its copy: the copy is writable to it
    // The candidate's own word (its NODE_OPTIONS script): real and effective uid and gid, then its groups.
    const groups = execFileSync('id', ['-G', who.name], { encoding: 'utf8' }).trim().split(' ').map(Number);
    expect(ids()).toBe(`${who.uid} ${who.uid} ${who.gid} ${who.gid}|${groups.sort().join(' ')}`);
    expect(await snapshotBytes(live)).toEqual(before); // the live state untouched
    for (const r of records) if (r.pgid) expect(pidAlive(r.pgid), `process group ${r.pgid}`).toBe(false);
    expect(await readdir(join(root, 'preflight'))).toEqual([]);
  });

  it("control: the same rehearsal for root's own service runs as root", async () => {
    const releaseDir = await candidate(root, '4.1.1', { schema: 18 });
    const records: PreflightRecord[] = [];
    const result = await runPreflight({
      node: process.execPath,
      args: ['server.js', '--port', '{port}'],
      env: { STATE_DIR: '{state}', NODE_OPTIONS: `--require=${join(marks, 'mark.cjs')}` },
      baseEnv: { PATH: '/usr/bin:/bin' },
      releaseDir,
      expectedVersion: '4.1.1',
      healthUrl: 'http://gateway.example:18789/health',
      versionField: 'version',
      verifyTimeoutMs: 5_000,
      holdMs: 500,
      copyState: (dir) => copyStatePrivately([live], dir),
      workRoot: join(root, 'preflight'),
      isolation: { kind: 'group' },
      onRecord: async (record) => void records.push(record),
    });
    expect(result, result.outputTail).toMatchObject({ ok: true });
    expect(ids().split(' ')[0]).toBe(String(process.getuid?.()));
    expect(await readdir(join(root, 'preflight'))).toEqual([]);
  });

  it("root's switch for a root that serves the account (supervisor none, --service-user): the candidate is the account's", async () => {
    const at = join(root, 'cli-root');
    const rs = async (args: string[]) => {
      const r = await cli(['--root', at, '--json', ...args], { as: null });
      expect(r.exitCode, `${args[0]}: ${r.stdout}${r.stderr}`).toBe(0);
      return r.json as { result: { status: string; steps: Array<{ name: string; status: string; evidence?: any }> } };
    };
    await rs([
      ...['init', '--package', 'rs-fixture-gateway', '--registry', inject('registryUrl'), '--supervisor', 'none'],
      ...['--service-user', who.name, '--health-url', 'http://127.0.0.1:9/health'],
      ...['--preflight', 'server.js --port {port}', '--preflight-for', '1'],
      ...['--preflight-env', `NODE_OPTIONS=--require=${join(marks, 'mark.cjs')}`],
    ]);
    await rs(['install', 'rs-fixture-gateway@1.1.0']);
    await rm(join(marks, 'ids'), { force: true });
    const switched = await rs(['switch', '1.1.0']);
    expect(switched.result.status).toBe('switched');
    const step = switched.result.steps.find((s) => s.name === 'preflight');
    expect(step).toMatchObject({ status: 'ok' });
    expect(step?.evidence?.environment).toBe(
      `config serviceUser ${who.name} (no running service or unit to read it from)`,
    );
    const groups = execFileSync('id', ['-G', who.name], { encoding: 'utf8' }).trim().split(' ').map(Number);
    expect(ids()).toBe(`${who.uid} ${who.uid} ${who.gid} ${who.gid}|${groups.sort().join(' ')}`);
    expect(await readdir(join(at, 'preflight'))).toEqual([]);
  }, 120_000);
});
