// The restart hold under a real systemd --user (the normal account rs-user runs the CLI and the service): a unit we
// write, Restart=always with RestartSec=500ms, whose process exits while an update holds restarts (as the old gateway
// exits on the restart handoff, before finalize) is not started by the manager on its own; a skipped start is not
// retried; our own start after the hold goes ahead; a hold left by a killed holder lapses at its deadline, and
// recovery removes it at once.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { layoutOf } from '../../src/store/layout.ts';
import { HOLD_TTL_SECONDS, holdRestarts } from '../../src/store/restart-hold.ts';
import { describeWhere } from '../support/skip.ts';
import { type ManagedGateway, managedGateway } from '../support/service.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';

const can = canRunUserManager();
const GOOD = '1.0.0';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWhere(can, 'the restart hold under systemd --user (Restart=always, RestartSec=500ms)', () => {
  let um: UserManager;
  let gw: ManagedGateway;
  beforeAll(async () => {
    um = await startUserManager({ name: 'hold' });
    gw = await managedGateway(um, { name: 'rs-gw-hold', stableFor: 1 });
    expect((await gw.rs(['install', `rs-fixture-gateway@${GOOD}`])).exitCode).toBe(0);
    expect((await gw.rs(['switch', GOOD])).json.result.status).toBe('verified');
  }, 120_000);
  afterAll(async () => um?.stop());

  const show = async () => {
    const r = await um.systemctl(['show', gw.unit, '-p', 'ActiveState', '-p', 'MainPID']);
    return Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('=', 2) as [string, string]),
    );
  };
  const until = async (what: string, cond: () => Promise<boolean>, ms = 30_000) => {
    const deadline = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}; unit: ${JSON.stringify(await show())}`);
      await sleep(200);
    }
  };
  /** The process exits on its own (killed), as the old gateway does on the restart handoff. */
  const exitOnItsOwn = async () => {
    const pid = Number((await show()).MainPID);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    return pid;
  };

  it('while held, the manager does not start it, nor retry the skipped start; ours after the release does', async () => {
    const hold = await holdRestarts(layoutOf(gw.root));
    const old = await exitOnItsOwn();
    // Well past RestartSec: the manager's restart ran its ExecCondition, which skipped it.
    await until('the restart skipped', async () => readFileSync(gw.log, 'utf8').includes('release-switcher holds'));
    await sleep(2_000);
    expect(await show()).toMatchObject({ ActiveState: 'inactive', MainPID: '0' });
    expect(await gw.health()).toBeNull();
    await hold.release();
    // A skipped condition is not a failure: Restart=always does not start it again once the hold is gone either.
    await sleep(2_000);
    expect((await show()).ActiveState).toBe('inactive');
    expect((await um.systemctl(['start', gw.unit])).exitCode).toBe(0);
    await until('healthy again', async () => (await gw.health())?.version === GOOD);
    expect(Number((await show()).MainPID)).not.toBe(old);
  }, 60_000);

  it('a hold whose holder was killed: recovery removes it, and a deadline passed no longer holds', async () => {
    const layout = layoutOf(gw.root);
    // What a holder killed with the hold held leaves: a deadline HOLD_TTL_SECONDS ahead, never renewed nor removed.
    writeFileSync(layout.restartHold, `${Math.ceil(Date.now() / 1000) + HOLD_TTL_SECONDS}\n`);
    const recovered = await gw.rs(['recover']);
    expect(recovered.exitCode, recovered.stdout + recovered.stderr).toBe(0);
    expect(recovered.stderr).toContain('removed a restart hold left by a killed transaction');
    expect(existsSync(layout.restartHold)).toBe(false);
    const first = await exitOnItsOwn();
    await until('restarted by the manager', async () => {
      const pid = Number((await show()).MainPID);
      return pid > 0 && pid !== first && (await gw.health())?.version === GOOD;
    });
    // Past its deadline (a holder that stopped renewing it long enough ago), a hold holds nothing.
    writeFileSync(layout.restartHold, `${Math.floor(Date.now() / 1000) - 1}\n`);
    const second = await exitOnItsOwn();
    await until('restarted past the deadline', async () => {
      const pid = Number((await show()).MainPID);
      return pid > 0 && pid !== second && (await gw.health())?.version === GOOD;
    });
  }, 60_000);
});
