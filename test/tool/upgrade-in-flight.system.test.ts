// Upgrading release-switcher the way users do, as the default test account (the normal account when the suite runs as
// root) under a real private `systemd --user`: `npm install -g release-switcher@next` rewrites the package in its
// prefix in place (a new package.json, a new dist/), then `unit --install` from it makes the new version's pinned
// copy and flips the tool home's `current`. A scheduled transaction's runner, started before, keeps the copy it
// started with (its versioned path) and finishes on it; the unit's boot-check runs the new copy from then on.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CheckResult as DoctorCheck } from '../../src/doctor/checks.ts';
import { asAccount } from '../support/accounts.ts';
import { accountCliEnv, type CliResult, cliEnv, runnableBy, tempDir } from '../support/cli.ts';
import { type ManagedGateway, managedGateway } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';
import { installPrefix } from '../support/tool-home.ts';

const can = canRunUserManager();
const REPO = path.resolve(import.meta.dirname, '../..');
const NEXT = '0.99.0-next.0';

/**
 * The pids whose command line has every one of `words`, with their command lines and executables. A child the runner
 * has just forked (to run systemctl, a probe) has its parent's command line and executable until its exec: it is not
 * another runner, and is left out (seen in CI at a load of 8: the same argv under a second pid whose parent was the
 * runner).
 */
function processesWith(words: string[]): Array<{ pid: number; argv: string[]; exe: string }> {
  const found: Array<{ pid: number; ppid: number; argv: string[]; exe: string }> = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!words.every((w) => argv.includes(w))) continue;
      // stat: pid (comm) state ppid …; comm may hold spaces and parentheses, so read after its last `)`.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      found.push({ pid: Number(pid), ppid, argv, exe: readlinkSync(`/proc/${pid}/exe`) });
    } catch {}
  }
  const pids = new Set(found.map((p) => p.pid));
  return found.filter((p) => !pids.has(p.ppid)).map(({ pid, argv, exe }) => ({ pid, argv, exe }));
}

describeWhere(can, 'npm install -g release-switcher@next while a scheduled transaction runs', () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  let prefix: string;
  let installed: { node: string; main: string; pkg: string };
  let from: { node: string; packageDir: string };
  const env = () =>
    Object.fromEntries(Object.entries(manager.env).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const home = () => env().RELEASE_SWITCHER_TOOL_HOME!;

  beforeAll(async () => {
    manager = await startUserManager({ name: 'tool-upgrade' });
    // A tool home of this file's own: it reads the home's `current` and `previous`, which another file run beside it as
    // the same account flips with its own `unit --install` (the run's tool home is one per account: tool-home.ts; seen
    // in CI at a load of 8: a copy of the suite's CLI flipped in between this file's two pins).
    manager.env.RELEASE_SWITCHER_TOOL_HOME = path.join(tempDir('rs-tool-home-', manager.account), 'home');
    prefix = path.join(tempDir('rs-prefix-', manager.account), 'prefix');
    from = manager.account ? runnableBy(manager.account) : { node: process.execPath, packageDir: REPO };
    installed = installPrefix(prefix, from, manager.account);
    // A long stability window keeps the runner busy while the tool is upgraded under it.
    gw = await managedGateway(manager, { name: 'rs-gw-upgrade', stableFor: 20, init: ['--node', from.node] });
    for (const v of ['1.0.0', '1.1.0']) expect((await gw.rs(['install', `rs-fixture-gateway@${v}`])).exitCode).toBe(0);
    expect((await gw.rs(['switch', '1.0.0'])).json.result.status).toBe('verified');
  }, 180_000);
  afterAll(async () => manager?.stop());

  /** `release-switcher ARGS` of the installation in the prefix, as the manager's account. */
  async function fromPrefix(args: string[]): Promise<CliResult> {
    const words = [installed.main, '--root', gw.root, '--json', ...args];
    const [file, argv] = manager.account ? asAccount(manager.account, installed.node, words) : [installed.node, words];
    const r = await execa(file, argv, {
      env: manager.account ? accountCliEnv(manager.account, env()) : cliEnv(env()),
      extendEnv: false,
      reject: false,
      timeout: 120_000,
    });
    let json: any;
    try {
      json = JSON.parse(r.stdout);
    } catch {}
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, json };
  }

  it('the runner finishes on the version it started with; the unit runs the new copy after the flip', async () => {
    const unit = ['unit', '--install', '--entry', 'server.js', '--arg=--port', `--arg=${gw.port}`];
    expect((await fromPrefix(unit)).exitCode).toBe(0);
    const before = readlinkSync(path.join(home(), 'current'));
    const scheduled = await fromPrefix(['switch', '1.1.0', '--handoff', 'always']);
    expect(scheduled.json?.result?.status, scheduled.stdout + scheduled.stderr).toBe('scheduled');
    const txId = scheduled.json.result.id as string;
    // The runner: the pinned copy by its versioned path (never through `current`), its Node the copy's own.
    let runner: ReturnType<typeof processesWith>[number] | undefined;
    await manager.waitFor(
      () => {
        runner = processesWith(['run-transaction', txId])[0];
        return runner !== undefined;
      },
      { timeoutMs: 20_000 },
    );
    const startedWith = path.join(home(), before);
    expect(runner!.argv.slice(0, 2)).toEqual([
      path.join(startedWith, 'node'),
      path.join(startedWith, 'package', 'dist', 'cli', 'main.js'),
    ]);
    expect(runner!.exe).toBe(path.join(startedWith, 'node'));

    // npm install -g release-switcher@next, in place: a new package.json and a new dist/ in the same folder.
    const manifest = JSON.parse(readFileSync(path.join(installed.pkg, 'package.json'), 'utf8'));
    execFileSync('rm', ['-rf', path.join(installed.pkg, 'dist'), path.join(installed.pkg, 'package.json')]);
    execFileSync('cp', ['-a', path.join(from.packageDir, 'dist'), installed.pkg]);
    writeFileSync(path.join(installed.pkg, 'package.json'), JSON.stringify({ ...manifest, version: NEXT }, null, 2));
    if (manager.account) execFileSync('chown', ['-R', `${manager.account.uid}:${manager.account.gid}`, installed.pkg]);
    const flipped = await fromPrefix(unit);
    expect(flipped.exitCode, flipped.stdout + flipped.stderr).toBe(0);
    const after = readlinkSync(path.join(home(), 'current'));
    expect(after).toMatch(new RegExp(`^versions/${NEXT.replaceAll('.', '\\.')}-[0-9a-f]{12}$`));
    expect(readlinkSync(path.join(home(), 'previous'))).toBe(before);

    // The runner is the same process, on the same copy, while it still runs, and its transaction is verified.
    const still = processesWith(['run-transaction', txId]);
    expect(still).toEqual([{ pid: runner!.pid, argv: runner!.argv, exe: path.join(startedWith, 'node') }]);
    let status: any;
    await manager.waitFor(
      async () => {
        status = (await gw.rs(['status'])).json?.result?.transaction;
        return status?.status === 'verified';
      },
      { timeoutMs: 90_000 },
    );
    expect(status).toMatchObject({ id: txId, to: '1.1.0', status: 'verified' });
    expect(processesWith(['run-transaction', txId])).toEqual([]);

    // From now on the unit's boot-check runs the new copy, and doctor sees every command answer as the new version.
    const shake = await execa(path.join(home(), 'current', 'node'), [
      path.join(home(), 'current', 'package', 'dist', 'cli', 'main.js'),
      '--json',
      'handshake',
    ]);
    expect(JSON.parse(shake.stdout).result.version).toBe(NEXT);
    const doctor = await gw.rs(['doctor']);
    expect(((doctor.json?.result?.checks ?? []) as DoctorCheck[]).find((c) => c.name === 'tool')).toMatchObject({
      ok: true,
    });
  });
});
