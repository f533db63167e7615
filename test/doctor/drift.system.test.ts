// What really runs, against a real private systemd --user and the fixture gateway: `status.running`
// and doctor's drift check, for a unit that runs through `current` (whose process names no release:
// its working directory is moved out of the root) and for a unit that names a versioned path.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWhere } from '../support/skip.ts';
import { cli } from '../support/cli.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';
import { type ManagedGateway, managedGateway } from '../support/service.ts';

const can = canRunUserManager();
const check = (r: { json: any }, name: string) => (r.json.result?.checks ?? []).find((c: any) => c.name === name);

/** Flip `current` on disk only, as a missed restart leaves it. */
async function flipWithoutRestart(gw: ManagedGateway, version: string): Promise<void> {
  expect((await gw.rs(['init', '--supervisor', 'none'])).exitCode).toBe(0);
  expect((await gw.rs(['switch', version])).json.result.status).toBe('switched');
  expect((await gw.rs(['init', '--supervisor', 'systemd'])).exitCode).toBe(0);
}

async function editUnit(manager: UserManager, gw: ManagedGateway, edit: (text: string) => string): Promise<void> {
  const fragment = (await manager.systemctl(['show', gw.unit, '--property=FragmentPath', '--value'])).stdout.trim();
  const before = readFileSync(fragment, 'utf8');
  const after = edit(before);
  expect(after).not.toBe(before);
  await manager.writeUnit(gw.unit, after);
}

describeWhere(can, `running ≠ current`, () => {
  let manager: UserManager;
  beforeAll(async () => {
    manager = await startUserManager({ name: 'drift' });
  }, 60_000);
  afterAll(async () => manager?.stop());

  it('through current: status says what runs, doctor fails drift with the restart command, a restart clears it', async () => {
    const gw = await managedGateway(manager, { name: 'rs-gw-drift', stableFor: 1 });
    // A working directory outside the root: the process then names `current` only, never a release.
    await editUnit(manager, gw, (text) => text.replace(/^WorkingDirectory=.*$/m, 'WorkingDirectory=/'));
    for (const v of ['1.0.0', '1.1.0']) expect((await gw.rs(['install', `rs-fixture-gateway@${v}`])).exitCode).toBe(0);
    expect((await gw.rs(['switch', '1.0.0'])).json.result.status).toBe('verified');
    const fresh = (await gw.rs(['status'])).json.result;
    expect(fresh.running).toMatchObject({ version: '1.0.0', pid: expect.any(Number), source: 'health', stale: false });
    expect(Date.parse(fresh.running.since)).toBeLessThanOrEqual(Date.now());

    await flipWithoutRestart(gw, '1.1.0');
    const stale = (await gw.rs(['status'])).json.result;
    expect(stale).toMatchObject({
      current: '1.1.0',
      running: { version: '1.0.0', pid: fresh.running.pid, source: 'health', stale: true },
    });
    const words = await cli(['--root', gw.root, 'status'], {
      env: Object.fromEntries(
        Object.entries(manager.env).filter((e): e is [string, string] => typeof e[1] === 'string'),
      ),
    });
    expect(words.exitCode).toBe(0);
    expect(words.stdout).toMatch(/NOT RESTARTED: the service still runs 1\.0\.0 \(pid \d+.*\), not current 1\.1\.0/);
    const doctor = await gw.rs(['doctor']);
    expect(doctor.exitCode).toBe(1);
    expect(check(doctor, 'drift')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(
        /runs 1\.0\.0 but current is 1\.1\.0: updated but not restarted \(its health endpoint says so\)\. Restart the service \(systemctl --user restart rs-gw-drift\.service\)/,
      ),
    });

    // Without a health endpoint the start time against the flip tells it: started before the flip,
    // so it runs what current was before (the journal's record of that flip).
    const configPath = join(gw.root, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8'));
    writeFileSync(configPath, JSON.stringify({ ...config, healthUrl: null }));
    const byTime = (await gw.rs(['status'])).json.result.running;
    expect(byTime).toMatchObject({ version: '1.0.0', source: 'journal', stale: true });
    expect(check(await gw.rs(['doctor']), 'drift')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('systemctl --user restart rs-gw-drift.service'),
    });

    await manager.systemctl(['restart', gw.unit]);
    const restarted = (await gw.rs(['status'])).json.result.running;
    expect(restarted).toMatchObject({ version: '1.1.0', source: 'start-time', stale: false });
    expect(restarted.pid).not.toBe(fresh.running.pid);
    writeFileSync(configPath, JSON.stringify(config));
    await manager.waitFor(async () => (await gw.health())?.version === '1.1.0');
    expect(check(await gw.rs(['doctor']), 'drift')).toMatchObject({
      ok: true,
      detail: expect.stringContaining('runs 1.1.0, the current release'),
    });
  }, 180_000);

  it('through a versioned path: drift fails and says a restart alone will not do', async () => {
    const gw = await managedGateway(manager, { name: 'rs-gw-pinned', stableFor: 1 });
    for (const v of ['1.0.0', '1.1.0']) expect((await gw.rs(['install', `rs-fixture-gateway@${v}`])).exitCode).toBe(0);
    expect((await gw.rs(['switch', '1.0.0'])).json.result.status).toBe('verified');
    await editUnit(manager, gw, (text) =>
      text
        .replace(`${gw.root}/current/server.js`, `${gw.root}/releases/1.0.0/server.js`)
        .replace(/^WorkingDirectory=.*$/m, 'WorkingDirectory=/'),
    );
    await manager.systemctl(['restart', gw.unit]);
    await manager.waitFor(async () => (await gw.health())?.version === '1.0.0');
    await flipWithoutRestart(gw, '1.1.0');
    const running = (await gw.rs(['status'])).json.result.running;
    expect(running).toMatchObject({ version: '1.0.0', stale: true });
    const drift = check(await gw.rs(['doctor']), 'drift');
    expect(drift).toMatchObject({
      ok: false,
      detail: expect.stringMatching(
        /runs 1\.0\.0 but current is 1\.1\.0.*its unit names releases\/1\.0\.0: run release-switcher unit --install, then systemctl --user restart rs-gw-pinned\.service/,
      ),
    });
  }, 180_000);
});
