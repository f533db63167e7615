// The heart of it, under a real private systemd --user: a switch succeeds only when a verified new
// process runs; every way a release can fail is rolled back automatically to a verified previous one.
import { appendFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWhere } from '../../support/skip.ts';
import { MATRIX } from '../../support/fixtures.ts';
import { readState, unfreeze } from '../../support/root.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../../support/systemd.ts';
import { type ManagedGateway, managedGateway } from '../../support/service.ts';

const can = canRunUserManager();

describeWhere(can, `switch under systemd --user`, () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  beforeAll(async () => {
    manager = await startUserManager({ name: 'switch' });
    // A 1 s stability window, except where the window is the subject (crash-after-3s, below): every verified
    // switch and rollback of the file would otherwise wait out the default 4 s.
    gw = await managedGateway(manager, { name: 'rs-gw', stableFor: 1 });
    for (const version of ['1.1.0', '1.2.0', ...Object.values(MATRIX)]) {
      const r = await gw.rs(['install', `rs-fixture-gateway@${version}`]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    }
  }, 120_000);
  afterAll(async () => manager?.stop());

  it('first activation: flip, restart, verified; the release is marked good', async () => {
    const r = await gw.rs(['switch', '1.1.0']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toMatchObject({ status: 'verified', to: '1.1.0' });
    expect(r.json.result.steps.map((s: any) => s.name)).toEqual(['verify-release', 'flip', 'restart', 'verify']);
    const verify = r.json.result.steps.at(-1);
    expect(verify.evidence).toMatchObject({ lastHttpStatus: 200, lastVersion: '1.1.0' });
    expect(verify.evidence.probes).toBeGreaterThan(1);
    expect((await gw.health())?.version).toBe('1.1.0');
    expect(readState(gw.root).releases['1.1.0'].state).toBe('good');
  });

  it('update to a good release: verified, and the old process is gone', async () => {
    const r = await gw.rs(['switch', '1.2.0']);
    expect(r.json.result).toMatchObject({ status: 'verified', from: '1.1.0', to: '1.2.0' });
    expect((await gw.health())?.version).toBe('1.2.0');
    const back = await gw.rs(['rollback']);
    expect(back.json.result).toMatchObject({ kind: 'rollback', status: 'verified', to: '1.1.0' });
  });

  /** Sets the root's stability window (seconds); resolves to it once set. */
  const stableFor = async (seconds: number) => {
    const r = await gw.rs(['init', '--stable-for', String(seconds)]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    return seconds;
  };

  const expected: Record<keyof typeof MATRIX, string> = {
    'crash-on-start': 'crashed',
    'crash-after-3s': 'crashed',
    'wrong-version': 'version_mismatch',
    'never-healthy': 'unhealthy',
    'ignore-sigterm': 'unhealthy',
    'exit-78': 'exit_78',
    'refuse-start': 'restart_failed',
  };

  it.each(Object.entries(MATRIX))(
    '%s (%s) is rolled back automatically to a verified 1.1.0',
    async (behaviour, version) => {
      // It turns healthy, then exits 3 s later: only a stability window longer than that catches it.
      const window = behaviour === 'crash-after-3s' ? await stableFor(4) : undefined;
      const r = await gw.rs(['switch', version]).finally(() => window && stableFor(1));
      expect(r.exitCode, r.stdout + r.stderr).toBe(3);
      expect(r.json).toMatchObject({ ok: false, error: { code: 'ROLLED_BACK' } });
      expect(r.json.result).toMatchObject({
        status: 'rolled_back',
        from: '1.1.0',
        to: version,
        reason: expected[behaviour as keyof typeof MATRIX],
      });
      const names = r.json.result.steps.map((s: any) => s.name);
      expect(names.slice(-3)).toEqual(['rollback', 'restart-previous', 'verify-previous']);
      expect(r.json.result.steps.at(-1)).toMatchObject({ status: 'ok' });
      // The previous release is running, verified and serving.
      expect((await gw.health())?.version).toBe('1.1.0');
      const active = await manager.systemctl(['show', gw.unit, '--property=ActiveState', '--value']);
      expect(active.stdout.trim()).toBe('active');
      const state = readState(gw.root);
      expect(state.releases[version]).toMatchObject({ state: 'bad' });
      expect(state.releases[version].reason).toMatch(new RegExp(`^${expected[behaviour as keyof typeof MATRIX]}`));
    },
  );

  // Last: it leaves the service down on purpose.
  it('when the previous release cannot come back either: rollback_failed, exit 4, with the commands to run', async () => {
    const bad = MATRIX['crash-on-start'];
    // 1.1.0 runs; tamper with it on disk, so bringing it back is refused.
    const file = join(gw.root, 'releases/1.1.0/server.js');
    unfreeze(file);
    chmodSync(file, 0o755);
    appendFileSync(file, "\n// changed behind release-switcher's back\n");
    chmodSync(file, 0o555);
    const r = await gw.rs(['switch', bad]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(4);
    expect(r.json.error.code).toBe('ROLLBACK_FAILED');
    expect(r.json.result).toMatchObject({ status: 'rollback_failed', from: '1.1.0', to: bad, reason: 'crashed' });
    expect(r.json.error.hint).toMatch(new RegExp(`systemctl --user status ${gw.unit}`));
    expect(r.json.error.hint).toMatch(/release-switcher --root .* switch VERSION/);
    expect(r.json.result.steps.at(-1).detail).toMatch(/could not flip back to 1\.1\.0/);
  });
});
