// End to end through the CLI and a real private systemd --user: a switch to a candidate that fails its
// rehearsal is refused before the flip (PREFLIGHT_FAILED, marked bad, current and the running service
// untouched); a good one is rehearsed, then flipped and verified.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWhere } from '../support/skip.ts';
import { MATRIX } from '../support/fixtures.ts';
import { type ManagedGateway, managedGateway } from '../support/service.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';

const can = canRunUserManager();

describeWhere(can, `switch with a preflight`, () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  const service = async () =>
    (await manager.systemctl(['show', gw.unit, '--property=MainPID', '--property=NRestarts'])).stdout;
  beforeAll(async () => {
    manager = await startUserManager({ name: 'preflight-sw' });
    gw = await managedGateway(manager, {
      name: 'rs-gw-pre',
      stableFor: 1,
      init: [
        '--preflight',
        'server.js --port {port}',
        '--preflight-for',
        '1',
        '--preflight-env',
        'RS_REHEARSAL=configured',
      ],
      environment: { RS_SERVICE_OWN: 'from-the-unit' },
    });
    for (const v of ['1.0.0', '1.1.0', MATRIX['crash-on-start']])
      expect((await gw.rs(['install', `rs-fixture-gateway@${v}`])).exitCode).toBe(0);
    expect((await gw.rs(['switch', '1.0.0'])).json.result.status).toBe('verified');
  }, 180_000);
  afterAll(async () => manager?.stop());

  it('refuses a candidate that crashes on start: PREFLIGHT_FAILED, no flip, no restart, marked bad', async () => {
    const before = await service();
    const r = await gw.rs(['switch', MATRIX['crash-on-start']]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.json.error.code).toBe('PREFLIGHT_FAILED');
    expect(await service()).toBe(before);
    expect((await gw.health())?.version).toBe('1.0.0');
    const list = await gw.rs(['list']);
    expect(JSON.stringify(list.json)).toMatch(/preflight: crashed/);
    const status = await gw.rs(['status']);
    expect(status.json.result.current).toBe('1.0.0');
  }, 60_000);

  it('rehearses a good candidate, then flips and verifies it', async () => {
    const r = await gw.rs(['switch', '1.1.0']);
    expect(r.json.result.status, r.stdout).toBe('verified');
    const step = r.json.result.steps.find((s: { name: string }) => s.name === 'preflight');
    expect(step).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^rehearsed on 127\.0\.0\.1:\d+/) });
    expect((await gw.health())?.version).toBe('1.1.0');
  }, 60_000);

  it('--no-preflight skips the rehearsal: no preflight step, straight to the flip', async () => {
    const r = await gw.rs(['switch', '1.0.0', '--no-preflight']);
    expect(r.json.result.status, r.stdout).toBe('verified');
    expect(r.json.result.steps.map((s: { name: string }) => s.name)).not.toContain('preflight');
    expect(r.json.result.steps.map((s: { name: string }) => s.name)).toContain('flip');
  }, 60_000);

  it('a rollback to a release verified here still rehearses when it starts on the live state the newer one ran on (no snapshot goes back)', async () => {
    for (const target of ['1.1.0', '1.0.0']) {
      const r = await gw.rs(['rollback']);
      expect(r.json.result, r.stdout + r.stderr).toMatchObject({ kind: 'rollback', status: 'verified', to: target });
      expect(r.json.result.restore).toBeUndefined();
      const step = r.json.result.steps.find((s: { name: string }) => s.name === 'preflight');
      expect(step).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^rehearsed on 127\.0\.0\.1:\d+/) });
      expect((await gw.health())?.version).toBe(target);
    }
  }, 60_000);

  // A switch handed to a runner outside the service (as from inside it) carries --no-preflight with it: the runner
  // reads its orders from the journaled transaction.
  const handedOff = async (args: string[]) => {
    const r = await gw.rs(['switch', ...args, '--handoff', 'always']);
    expect([r.exitCode, r.json?.result?.status], r.stdout + r.stderr).toEqual([0, 'scheduled']);
    const deadline = Date.now() + 45_000;
    for (;;) {
      const status = await gw.rs(['status']);
      expect(
        status.json,
        `status while the runner works: ${status.exitCode} ${status.signal ?? ''} ${status.stdout} ${status.stderr}`,
      ).toBeDefined();
      const tx = status.json.result.transaction;
      if (tx?.id === r.json.result.id && tx.finishedAt) return tx;
      if (Date.now() > deadline) throw new Error(`the runner did not finish: ${JSON.stringify(tx)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  it('kill -9 of the switcher mid-rehearsal: the transient unit outlives it, recover stops it and removes the private copy', async () => {
    const before = await service();
    const current = (await gw.rs(['status'])).json.result.current;
    const target = current === '1.0.0' ? '1.1.0' : '1.0.0';
    const crashed = await gw.rs(['switch', target], {
      env: { RELEASE_SWITCHER_CRASH_AT: 'activate:preflight-running' },
    });
    expect(crashed.signal, crashed.stdout + crashed.stderr).toBe('SIGKILL');
    const units = async () =>
      (
        await manager.systemctl(['list-units', '--all', '--plain', '--no-legend', 'release-switcher-preflight-*'])
      ).stdout.trim();
    expect(await units(), 'the rehearsal unit runs on after the kill').toMatch(
      /release-switcher-preflight-.*\.service\s+loaded\s+active/,
    );
    expect(readdirSync(join(gw.root, 'preflight'))).toHaveLength(1);
    const recovered = await gw.rs(['recover']);
    expect(recovered.exitCode, recovered.stdout + recovered.stderr).toBe(0);
    expect(recovered.json.result).toMatchObject({ status: 'failed', reason: 'interrupted', to: target });
    expect(await units()).toBe('');
    expect(readdirSync(join(gw.root, 'preflight'))).toEqual([]);
    expect(await service()).toBe(before);
    expect((await gw.health())?.version).toBe(current);
  }, 60_000);

  // Issue 21 item 1a: the candidate runs new, untrusted code; the caller may be a shell full of credentials or the
  // gateway's own update.run. It gets the configured --preflight-env and the service's own environment, nothing else.
  it("the candidate's environment: --preflight-env and the service's own, never the caller's (a secret stays out)", async () => {
    const current = (await gw.rs(['status'])).json.result.current;
    const target = current === '1.0.0' ? '1.1.0' : '1.0.0';
    // Killed once the candidate runs, so its unit can be read; recover ends it (as the kill -9 test above).
    const crashed = await gw.rs(['switch', target], {
      env: { RELEASE_SWITCHER_CRASH_AT: 'activate:preflight-running', RS_CALLER_SECRET: 'caller-secret-4f2a' },
    });
    expect(crashed.signal, crashed.stdout + crashed.stderr).toBe('SIGKILL');
    const listed = await manager.systemctl(['list-units', '--plain', '--no-legend', 'release-switcher-preflight-*']);
    const unit = listed.stdout.trim().split(/\s+/)[0]!;
    const pid = (await manager.systemctl(['show', unit, '--property=MainPID', '--value'])).stdout.trim();
    expect(Number(pid), `${unit}: ${listed.stdout}`).toBeGreaterThan(1);
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain('RS_REHEARSAL=configured');
    expect(environ).toContain('RS_SERVICE_OWN=from-the-unit');
    expect(environ.filter((e) => e.includes('caller-secret-4f2a'))).toEqual([]);
    expect(environ.filter((e) => e.startsWith('RELEASE_SWITCHER_CRASH_AT='))).toEqual([]);
    const recovered = await gw.rs(['recover']);
    expect(recovered.exitCode, recovered.stdout + recovered.stderr).toBe(0);
    expect(
      (await manager.systemctl(['list-units', '--plain', '--no-legend', 'release-switcher-preflight-*'])).stdout.trim(),
    ).toBe('');
  }, 60_000);

  it('a handed-off switch with --no-preflight: the runner skips the rehearsal too', async () => {
    const tx = await handedOff(['1.1.0', '--no-preflight']);
    expect(tx.status, JSON.stringify(tx)).toBe('verified');
    expect(tx.steps.map((s: { name: string }) => s.name)).not.toContain('preflight');
    expect(tx.steps.map((s: { name: string }) => s.name)).toContain('flip');
  }, 60_000);

  it('a handed-off switch without it: the runner rehearses first', async () => {
    const tx = await handedOff(['1.0.0']);
    expect(tx.status, JSON.stringify(tx)).toBe('verified');
    expect(tx.steps.find((s: { name: string }) => s.name === 'preflight')).toMatchObject({ status: 'ok' });
  }, 60_000);
});
