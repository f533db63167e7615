// release-switcher end to end with real pm2: a good release is verified, a crashing one rolled back; and the same
// switch with pm2, the app and the CLI all run as a normal account (issue 30: pm2 as the user).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canUseAccounts, normalAccount } from '../../support/accounts.ts';
import { MATRIX } from '../../support/fixtures.ts';
import { godDaemons, type Pm2Gateway, pm2Gateway } from '../../support/pm2.ts';
import { readState } from '../../support/root.ts';
import { describeWhere } from '../../support/skip.ts';

/** The real uid of a live process (the first field of the `Uid:` line of /proc/PID/status). */
const uidOf = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

describe('switch under real pm2', () => {
  let gw: Pm2Gateway;

  beforeAll(async () => {
    // The operator's first steps: activate a release on disk, start the app through current/, then
    // hand the root to the supervisor.
    gw = await pm2Gateway({
      app: 'rs-pm2-gw',
      versions: ['1.0.0', '1.1.0', MATRIX['crash-on-start']],
      init: ['--verify-timeout', '8', '--stable-for', '3'],
    });
  }, 120_000);

  afterAll(async () => gw?.stop());

  it('switch to a good release restarts the pm2 app and verifies it', async () => {
    const r = await gw.rs(['switch', '1.1.0']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toMatchObject({ status: 'verified', from: '1.0.0', to: '1.1.0' });
    expect((await gw.health()).version).toBe('1.1.0');
  });

  it('a release that crashes on start is rolled back and the previous one serves again', async () => {
    const bad = MATRIX['crash-on-start'];
    const r = await gw.rs(['switch', bad]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(3);
    expect(r.json.result).toMatchObject({ status: 'rolled_back', to: bad, reason: 'crashed' });
    expect((await gw.health()).version).toBe('1.1.0');
    expect(readState(gw.root).releases[bad].state).toBe('bad');
  });
});

describeWhere(canUseAccounts(), 'switch under real pm2, as a normal account', () => {
  let gw: Pm2Gateway;

  beforeAll(async () => {
    gw = await pm2Gateway({
      app: 'rs-pm2-acct',
      versions: ['1.0.0', '1.1.0'],
      init: ['--verify-timeout', '8', '--stable-for', '3'],
      as: normalAccount(),
    });
  }, 120_000);

  afterAll(async () => gw?.stop());

  it('the account switches its pm2 app to a good release; the app and its releases are the account own', async () => {
    const user = gw.account!;
    const before = await gw.app();
    expect(uidOf(before.pid)).toBe(user.uid);
    const r = await gw.rs(['switch', '1.1.0']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toMatchObject({ status: 'verified', from: '1.0.0', to: '1.1.0' });
    expect((await gw.health()).version).toBe('1.1.0');
    const after = await gw.app();
    expect(after.pid).not.toBe(before.pid);
    expect(uidOf(after.pid)).toBe(user.uid);
    expect(statSync(join(gw.root, 'releases', '1.1.0')).uid).toBe(user.uid);
  });

  it("with the account's pm2 daemon gone, its status and doctor say nothing runs and start no daemon (pm2 would)", async () => {
    await gw.kill();
    expect(godDaemons(gw.home)).toEqual([]);
    const status = await gw.rs(['status']);
    expect(status.exitCode, status.stdout + status.stderr).toBe(0);
    expect(status.json.result.running).toBeNull();
    const doctor = await gw.rs(['doctor']);
    expect(doctor.json.result.checks.find((c: { name: string }) => c.name === 'drift')).toMatchObject({ ok: true });
    expect(godDaemons(gw.home)).toEqual([]);
  });
});
