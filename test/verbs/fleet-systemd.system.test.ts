// Every gateway of one host under a real private systemd --user (the suite's normal account's, like the CLI): three
// roots of the fixture gateway, each its own unit and port, recorded by their init in the manager's lists of roots.
// - `update --all`: each gateway's new process verified (`verified`, not `switched` as without a supervisor), one
//   root after the other, the canary first;
// - a canary whose release crashes on start is rolled back (exit 3) and the rollout stops: the other gateways serve
//   on, the same processes;
// - a root whose lock another operation holds is `busy` (BUSY, exit 5), counted as a failure: with --max-failures 2 the
//   rollout goes on past it, and the exit is the worst root's.
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';
import { MATRIX } from '../support/fixtures.ts';
import { currentOf, expectUntouched, type ManagedGateway, mainPidOf, managedGateway } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';

const CRASHES = MATRIX['crash-on-start'];

describeWhere(canRunUserManager(), 'update --all under systemd --user', () => {
  let manager: UserManager;
  const gateways: ManagedGateway[] = [];
  /** The CLI as the manager's account with its environment (its lists of roots under its XDG_STATE_HOME). */
  const all = (args: string[]) => {
    const env = Object.fromEntries(
      Object.entries(manager.env).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    return cli(['--json', ...args], { env, as: manager.account, timeout: 300_000 });
  };
  const mainPid = (gw: ManagedGateway) => mainPidOf(manager, gw);
  const current = currentOf;

  beforeAll(async () => {
    manager = await startUserManager({ name: 'fleet' });
    for (const name of ['rs-fleet-a', 'rs-fleet-b', 'rs-fleet-c']) {
      const gw = await managedGateway(manager, { name, stableFor: 1 });
      const first = await gw.rs(['update', 'rs-fixture-gateway@1.1.0']);
      expect(first.json?.result?.status, first.stdout + first.stderr).toBe('verified');
      gateways.push(gw);
    }
  }, 300_000);
  afterAll(async () => manager?.stop());

  it('update --all: every gateway verified on the new release, the canary first', async () => {
    const r = await all(['update', '--all', 'rs-fixture-gateway@1.2.0']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toMatchObject({ command: 'update', canary: gateways[0]!.root, failures: 0, stopped: false });
    expect(r.json.result.roots.map((o: { root: string; status: string }) => [o.root, o.status])).toEqual(
      gateways.map((gw) => [gw.root, 'verified']),
    );
    for (const gw of gateways) {
      expect((await gw.health())?.version).toBe('1.2.0');
      expect(await current(gw)).toBe('1.2.0');
    }
  }, 300_000);

  it('a canary that crashes on start is rolled back and the rollout stops; the others serve on, untouched', async () => {
    const pids = await Promise.all(gateways.map(mainPid));
    const r = await all(['update', '--all', `rs-fixture-gateway@${CRASHES}`]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(3);
    expect(r.json.result).toMatchObject({ canary: gateways[0]!.root, failures: 1, stopped: true });
    expect(r.json.result.roots.map((o: { status: string }) => o.status)).toEqual(['rolled_back', 'not_run', 'not_run']);
    expect((await gateways[0]!.health())?.version).toBe('1.2.0');
    for (const [i, gw] of gateways.entries())
      if (i > 0) await expectUntouched(manager, gw, { pid: pids[i]!, version: '1.2.0', never: CRASHES });
  }, 300_000);

  it('a root another operation holds is BUSY, a failure; --max-failures 2 goes on past it; the exit is the worst', async () => {
    const held = gateways[1]!;
    // The lock as a live holder keeps it (store/lock.ts): the directory, refreshed, and its owner record, this process.
    const lock = join(held.root, '.lock');
    mkdirSync(lock);
    writeFileSync(
      join(held.root, '.lock-owner.json'),
      `${JSON.stringify({ pid: process.pid, hostname: hostname(), command: 'a test holding it', since: new Date().toISOString() })}\n`,
    );
    const refresh = setInterval(() => utimesSync(lock, new Date(), new Date()), 1_000);
    try {
      const r = await all(['rollback', '--all', '--max-failures', '2']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(5);
      expect(r.json.result).toMatchObject({ failures: 1, stopped: false });
      expect(r.json.result.roots.map((o: { status: string; code?: string }) => [o.status, o.code])).toEqual([
        ['verified', undefined],
        ['busy', 'BUSY'],
        ['verified', undefined],
      ]);
    } finally {
      clearInterval(refresh);
      rmSync(lock, { recursive: true, force: true });
      rmSync(join(held.root, '.lock-owner.json'), { force: true });
    }
    expect(await current(gateways[0]!)).toBe('1.1.0');
    expect(await current(held)).toBe('1.2.0');
    expect(await current(gateways[2]!)).toBe('1.1.0');
  }, 300_000);
});
