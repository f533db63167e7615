// Switching from inside the service (update.run) and surviving a killed runner, under a real systemd --user.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWhere } from '../support/skip.ts';
import { MATRIX } from '../support/fixtures.ts';
import { readState } from '../support/root.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';
import { type ManagedGateway, managedGateway } from '../support/service.ts';

const can = canRunUserManager();

async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 60_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const inFlight = (root: string) => readState(root).transaction;

describeWhere(can, `in-service switches and runner crashes under systemd --user`, () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  beforeAll(async () => {
    manager = await startUserManager({ name: 'handoff' });
    gw = await managedGateway(manager, { name: 'rs-gw-h', stableFor: 3 });
    for (const version of ['1.0.0', '1.1.0', MATRIX['crash-on-start'], MATRIX['wrong-version']])
      expect((await gw.rs(['install', `rs-fixture-gateway@${version}`])).exitCode).toBe(0);
    expect((await gw.rs(['switch', '1.0.0'])).json.result.status).toBe('verified');
  }, 120_000);
  afterAll(async () => manager?.stop());

  it('update.run from inside the service is scheduled, handed to a transient unit, and verified', async () => {
    const response = await fetch(`http://127.0.0.1:${gw.port}/run-update`, {
      method: 'POST',
      body: JSON.stringify({ spec: 'rs-fixture-gateway@1.2.0' }),
    });
    const ran = (await response.json()) as { exitCode: number; stdout: string; stderr: string };
    expect(ran.exitCode, ran.stdout + ran.stderr).toBe(0);
    const envelope = JSON.parse(ran.stdout);
    expect(envelope.result).toMatchObject({ kind: 'update', status: 'scheduled', from: '1.0.0', to: '1.2.0' });
    expect(envelope.result.steps.at(-1).detail).toMatch(/transient unit release-switcher-/);
    const done = await until('the runner to finish', async () => {
      const status = await gw.rs(['status']);
      const tx = status.json.result.transaction;
      return tx?.id === envelope.result.id && tx.finishedAt ? tx : null;
    });
    expect(done).toMatchObject({ status: 'verified', to: '1.2.0' });
    expect(done.heartbeatAt).toBeTruthy();
    expect((await gw.health())?.version).toBe('1.2.0');
  });

  it('a runner that never starts is reported as runner_never_ran, not in flight forever', async () => {
    // systemd-run cannot reach any manager: the handoff fails at once and nothing changes.
    const r = await gw.rs(['switch', '1.1.0', '--handoff', 'always'], {
      env: { XDG_RUNTIME_DIR: '/nonexistent', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' },
    });
    expect(r.json.error.code).toBe('RUNNER_NEVER_RAN');
    expect(r.json.result).toMatchObject({ status: 'failed', reason: 'runner_never_ran' });
    expect((await gw.health())?.version).toBe('1.2.0');
    expect(inFlight(gw.root)).toBeNull();
  });

  it('kill -9 of the runner mid-verify: recover finishes the verification', async () => {
    const r = await gw.rs(['switch', '1.1.0', '--handoff', 'always']);
    expect([r.exitCode, r.json?.result?.status], r.stdout + r.stderr).toEqual([0, 'scheduled']);
    await until('verifying', () => inFlight(gw.root)?.status === 'verifying');
    const runner = `release-switcher-${r.json.result.id}.service`;
    const pid = Number((await manager.systemctl(['show', runner, '--property=MainPID', '--value'])).stdout.trim());
    expect(pid).toBeGreaterThan(0);
    // Issue 21 item 2: the runner is bounded by its manager too (the steps each have their own deadline).
    expect((await manager.systemctl(['show', runner, '--property=RuntimeMaxUSec', '--value'])).stdout.trim()).toBe(
      '1h',
    );
    execFileSync('kill', ['-9', String(pid)]);
    await until(
      'the runner to die',
      async () => (await manager.systemctl(['is-active', runner])).stdout.trim() !== 'active',
    );
    expect(inFlight(gw.root)?.status).toBe('verifying');
    const recovered = await gw.rs(['recover']);
    expect(recovered.exitCode, recovered.stdout + recovered.stderr).toBe(0);
    expect(recovered.json.result).toMatchObject({ id: r.json.result.id, status: 'verified', to: '1.1.0' });
    expect(recovered.json.result.steps.map((s: any) => s.name)).toContain('recover');
    expect(readState(gw.root).releases['1.1.0'].state).toBe('good');
  });

  it('kill -9 of the runner while a crash-looping release restarts: the boot-check flips back by itself', async () => {
    const bad = MATRIX['crash-on-start'];
    const r = await gw.rs(['switch', bad, '--handoff', 'always']);
    expect([r.exitCode, r.json?.result?.status], r.stdout + r.stderr).toEqual([0, 'scheduled']);
    await until(
      'the flip',
      () => inFlight(gw.root)?.status === 'verifying' || inFlight(gw.root)?.status === 'restarting',
    );
    // `restarting` is journaled before the restart is asked for: a kill in between leaves 1.1.0's old process serving,
    // and the wait below would end at once with nothing flipped back. Kill once the old process is gone.
    await until('the restart of the unit', async () => (await gw.health())?.version !== '1.1.0');
    const runner = `release-switcher-${r.json.result.id}.service`;
    const pid = Number((await manager.systemctl(['show', runner, '--property=MainPID', '--value'])).stdout.trim());
    if (pid > 0) execFileSync('kill', ['-9', String(pid)]);
    // Nothing watches now; Restart=always keeps starting the bad release, and each start runs the
    // boot-check, which flips current back once its 3 tries are spent.
    await until('1.1.0 serving again', async () => (await gw.health())?.version === '1.1.0', 40_000).catch((error) => {
      throw new Error(
        `${error.message}\nstate: ${JSON.stringify(readState(gw.root).transaction)}\nlog: ${readFileSync(gw.log, 'utf8').slice(-3000)}`,
      );
    });
    const state = readState(gw.root);
    expect(state.releases[bad]).toMatchObject({ state: 'bad' });
    expect(state.releases[bad].reason).toMatch(/crash_loop/);
    expect(state.transaction).toMatchObject({ status: 'rolling_back', reason: 'crash_loop' });
    // recover then verifies the release that is running and closes the transaction.
    const recovered = await gw.rs(['recover']);
    expect(recovered.json.result).toMatchObject({ status: 'rolled_back', reason: 'crash_loop', from: '1.1.0' });
    expect(inFlight(gw.root)).toBeNull();
  });

  it('--wait waits for the verdict of a handed-off switch and exits with its code: 0 verified, 3 rolled_back', async () => {
    // --wait alone (no limit on the lock), and --wait SECONDS (which bounds the lock's wait, not the verdict's).
    const good = await gw.rs(['switch', '1.2.0', '--handoff', 'always', '--wait']);
    // The runner's own output (its transient unit appends it to runner.log) says why, if it stopped reporting.
    const runnerLog = () => {
      try {
        return readFileSync(path.join(gw.root, 'runner.log'), 'utf8').slice(-4000);
      } catch (error) {
        return String(error);
      }
    };
    expect(
      [good.exitCode, good.json?.result?.status],
      `${good.stdout}${good.stderr}\nrunner.log:\n${runnerLog()}`,
    ).toEqual([0, 'verified']);
    expect(good.json.result).toMatchObject({
      kind: 'switch',
      from: '1.1.0',
      to: '1.2.0',
      finishedAt: expect.any(String),
    });
    expect(good.json.result.heartbeatAt).toBeTruthy(); // carried out by the runner, not by this process
    expect((await gw.health())?.version).toBe('1.2.0');

    const wrong = MATRIX['wrong-version'];
    const bad = await gw.rs(['switch', wrong, '--handoff', 'always', '--wait', '30']);
    expect([bad.exitCode, bad.json?.error?.code], bad.stdout + bad.stderr).toEqual([3, 'ROLLED_BACK']);
    expect(bad.json.result).toMatchObject({ to: wrong, status: 'rolled_back', reason: 'version_mismatch' });
    expect(bad.json.result.heartbeatAt).toBeTruthy();
    expect((await gw.health())?.version).toBe('1.2.0');
    expect(inFlight(gw.root)).toBeNull();
  });
});
