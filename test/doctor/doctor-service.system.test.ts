// doctor's service checks against a real private systemd --user: ExecStart through current, and drift.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';
import { type ManagedGateway, managedGateway } from '../support/service.ts';
import type { CheckResult as DoctorCheck } from '../../src/doctor/checks.ts';
import type { CliResult } from '../support/cli.ts';

const can = canRunUserManager();
const check = (r: CliResult, name: string) =>
  ((r.json?.result?.checks ?? []) as DoctorCheck[]).find((c) => c.name === name);

describeWhere(can, `doctor and the service`, () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  beforeAll(async () => {
    manager = await startUserManager({ name: 'doctor' });
    gw = await managedGateway(manager, { name: 'rs-gw-doc', stableFor: 1 });
    for (const v of ['1.0.0', '1.1.0']) expect((await gw.rs(['install', `rs-fixture-gateway@${v}`])).exitCode).toBe(0);
    expect((await gw.rs(['switch', '1.0.0'])).json.result.status).toBe('verified');
  }, 120_000);
  afterAll(async () => manager?.stop());

  it('the unit starts the service through current, and the running process runs current', async () => {
    const r = await gw.rs(['doctor']);
    expect(check(r, 'unit')).toMatchObject({ ok: true, detail: expect.stringContaining(`${gw.root}/current/`) });
    expect(check(r, 'drift')).toMatchObject({
      ok: true,
      detail: expect.stringContaining('runs 1.0.0, the current release'),
    });
    expect(check(r, 'unit-scope')).toMatchObject({ ok: true });
  });

  it('drift: current flipped while the old process kept running is "updated but not restarted"', async () => {
    // Flip on disk only, as an in-place tool or a missed restart would leave it.
    expect((await gw.rs(['init', '--supervisor', 'none'])).exitCode).toBe(0);
    expect((await gw.rs(['switch', '1.1.0'])).json.result.status).toBe('switched');
    expect((await gw.rs(['init', '--supervisor', 'systemd'])).exitCode).toBe(0);
    const r = await gw.rs(['doctor']);
    expect(r.exitCode).toBe(1);
    expect(check(r, 'drift')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(
        /runs 1\.0\.0 but current is 1\.1\.0: updated but not restarted.*systemctl --user restart rs-gw-doc\.service/,
      ),
    });
    await manager.systemctl(['restart', gw.unit]);
    const after = await gw.rs(['doctor']);
    expect(check(after, 'drift')).toMatchObject({ ok: true, detail: expect.stringContaining('runs 1.1.0') });
  });

  it('a unit whose ExecStart names a versioned path is reported: switches would not reach it', async () => {
    const fragment = (await manager.systemctl(['show', gw.unit, '--property=FragmentPath', '--value'])).stdout.trim();
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(fragment, 'utf8').replace(
      `${gw.root}/current/server.js`,
      `${gw.root}/releases/1.1.0/server.js`,
    );
    await manager.writeUnit(gw.unit, text);
    const r = await gw.rs(['doctor']);
    expect(check(r, 'unit')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('names a versioned release path'),
    });
  });
});
