// kill -9 inside the way back (the automatic rollback after a failed restart), under a real private
// systemd --user: `recover` re-enters the way back and ends rolled_back, the previous release verified
// and serving, the links as before the switch, the failed release bad.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MATRIX } from '../support/fixtures.ts';
import { currentIsValid, linkOf, readState, stagingEntries } from '../support/root.ts';
import { type ManagedGateway, managedGateway } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';

const can = canRunUserManager();
/** Its unit's ExecStartPre refuses it: the restart fails at once (restart_failed), the way back begins. */
const bad = MATRIX['refuse-start'];

describeWhere(can, 'crash points inside the way back, under systemd --user', () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  beforeAll(async () => {
    manager = await startUserManager({ name: 'way-back' });
    gw = await managedGateway(manager, { name: 'rs-gw-wb', verifyTimeout: 6, stableFor: 1 });
    for (const version of ['1.0.0', '1.1.0', bad])
      expect((await gw.rs(['install', `rs-fixture-gateway@${version}`])).exitCode).toBe(0);
    expect((await gw.rs(['switch', '1.0.0'])).json.result.status).toBe('verified');
    expect((await gw.rs(['switch', '1.1.0'])).json.result.status).toBe('verified');
  }, 180_000);
  afterAll(async () => manager?.stop());

  it.each(['rollback:begin', 'flip-back:current-flipped', 'rollback:flipped', 'rollback:restarted'])(
    'SIGKILL at %s → recover resumes the way back and ends rolled_back on 1.1.0',
    async (point) => {
      const previous = linkOf(gw.root, 'previous');
      const crashed = await gw.rs(['switch', bad], { env: { RELEASE_SWITCHER_CRASH_AT: point } });
      expect(crashed.signal, `${point} was never reached: ${crashed.stdout}${crashed.stderr}`).toBe('SIGKILL');
      expect(currentIsValid(gw.root)).toBe(true); // even before recovery
      expect(readState(gw.root).transaction).toMatchObject({
        status: 'rolling_back',
        reason: 'restart_failed',
        to: bad,
      });

      const recovered = await gw.rs(['recover']);
      expect(recovered.exitCode, recovered.stdout + recovered.stderr).toBe(0);
      expect(recovered.json.result).toMatchObject({
        status: 'rolled_back',
        reason: 'restart_failed',
        from: '1.1.0',
        to: bad,
      });
      const steps = recovered.json.result.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`);
      expect(steps).toContain('recover:ok');
      expect(steps.slice(-3)).toEqual(['rollback:ok', 'restart-previous:ok', 'verify-previous:ok']);

      expect(linkOf(gw.root, 'current')).toBe('releases/1.1.0');
      expect(linkOf(gw.root, 'previous')).toBe(previous);
      expect((await gw.health())?.version).toBe('1.1.0');
      const active = await manager.systemctl(['show', gw.unit, '--property=ActiveState', '--value']);
      expect(active.stdout.trim()).toBe('active');
      const state = readState(gw.root);
      expect(state.transaction).toBeNull();
      expect(state.history.at(-1)).toMatchObject({ status: 'rolled_back', to: bad });
      expect(state.releases[bad]).toMatchObject({ state: 'bad', reason: expect.stringMatching(/^restart_failed: /) });
      expect(state.releases['1.1.0'].state).toBe('good');
      expect(stagingEntries(gw.root)).toEqual([]);
      // And the root works on: the next switch is verified.
      expect((await gw.rs(['switch', '1.0.0'])).json.result.status).toBe('verified');
      expect((await gw.rs(['switch', '1.1.0'])).json.result.status).toBe('verified');
    },
  );
});
