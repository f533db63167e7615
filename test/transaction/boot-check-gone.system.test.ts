// The tool's installation moves away under an installed unit (nvm uninstall of the old Node, npm uninstall -g, a new
// prefix): the unit's boot-check (ExecStartPre=-…) then fails with `Cannot find module` at every start, and its `-`
// lets the service start anyway. Under a real private systemd --user, as the normal account: the boot-check runs from
// a copy of the package that is then deleted, as a moved installation leaves it. A switch owed a state checkpoint then
// fails its verification (STATE_CHECKPOINT_MISSING) instead of ending `verified` with no way back, and `status` and
// `doctor` say the boot-check did not run at the service's start. Control: the same switch with the boot-check in
// place takes the checkpoint, is verified, and rolls back to the old schema. (In-process, with a fake supervisor:
// test/transaction/checkpoint-missing.registry.test.ts.)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWhere } from '../support/skip.ts';
import { SCHEMA_RELEASES } from '../support/fixtures.ts';
import { runnableBy, tempDir } from '../support/cli.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';
import { type ManagedGateway, currentOf, managedGateway } from '../support/service.ts';

const can = canRunUserManager();
const { old: OLD, new: NEW } = SCHEMA_RELEASES;

/** A copy of the built package (what `npm install -g` leaves) in a folder the account owns; its CLI's path. */
function installedCopy(manager: UserManager): { dir: string; main: string } {
  const source = manager.account ? runnableBy(manager.account).packageDir : join(import.meta.dirname, '../..');
  const dir = join(tempDir('rs-moved-', manager.account), 'lib', 'node_modules', 'release-switcher');
  mkdirSync(dir, { recursive: true });
  for (const entry of ['dist', 'package.json', 'layout']) {
    const copied = spawnSync('cp', ['-a', '--link', join(source, entry), dir]);
    if (copied.status !== 0) spawnSync('cp', ['-a', join(source, entry), dir]);
  }
  symlinkSync(join(source, 'node_modules'), join(dir, 'node_modules'));
  return { dir, main: join(dir, 'dist', 'cli', 'main.js') };
}

describeWhere(can, 'the boot-check gone with a moved installation, under systemd --user', () => {
  let manager: UserManager;
  let copy: { dir: string; main: string };
  let migrating: ManagedGateway; // OLD (schema 17) → NEW (migrates to 18), --schema-field
  let plain: ManagedGateway; // 1.0.0 → 1.1.0, which read the same state
  let stateDir: string;
  let plainState: string;
  const db = () => JSON.parse(readFileSync(join(stateDir, 'state.db'), 'utf8'));
  const moved = (command: string[]) => [command[0]!, copy.main, ...command.slice(2)];

  beforeAll(async () => {
    manager = await startUserManager({ name: 'bootgone' });
    copy = installedCopy(manager);
    stateDir = join(manager.root, 'gateway-state');
    plainState = join(manager.root, 'plain-state');
    mkdirSync(plainState);
    writeFileSync(join(plainState, 'data.json'), '{"n":1}\n');
    if (manager.account) spawnSync('chown', ['-R', `${manager.account.uid}:${manager.account.gid}`, plainState]);
    migrating = await managedGateway(manager, {
      name: 'rs-bootgone',
      stableFor: 1,
      init: ['--state-path', join(stateDir, 'state.db'), '--schema-field', 'rsFixture.schemaVersions'],
      environment: { STATE_DIR: stateDir },
      bootCheck: moved,
    });
    plain = await managedGateway(manager, {
      name: 'rs-bootgone-plain',
      stableFor: 1,
      init: ['--state-path', plainState],
      bootCheck: moved,
    });
    for (const [gw, versions] of [
      [migrating, [OLD, NEW]],
      [plain, ['1.0.0', '1.1.0']],
    ] as const) {
      for (const version of versions) {
        const r = await gw.rs(['install', `rs-fixture-gateway@${version}`]);
        expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      }
      const first = await gw.rs(['switch', versions[0]]);
      expect(first.json?.result, first.stdout + first.stderr).toMatchObject({ status: 'verified' });
    }
  }, 240_000);
  afterAll(async () => manager?.stop());

  it('with the installation in place the boot-check records each start (the first one counted): status and doctor say it ran', async () => {
    const status = (await migrating.rs(['status'])).json.result;
    expect(status.bootCheck).toMatchObject({
      atLastStart: 'ran',
      last: {
        action: 'counted', // its first start: pending until verified
        version: OLD,
        tool: expect.any(String),
        invocation: expect.stringMatching(/^[0-9a-f]{32}$/),
      },
    });
    expect((await migrating.rs(['switch', NEW, '--dry-run'])).json.result.checkpoint).toBeUndefined(); // it ran
    const doctor = await migrating.rs(['doctor']);
    expect(doctor.json.result.checks.find((c: { name: string }) => c.name === 'boot-check-ran')).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/^the boot-check ran at the unit's start/),
    });
  });

  it(`control: switch ${NEW} with the boot-check in place takes the checkpoint, verified; rollback brings schema 17 back`, async () => {
    const up = await migrating.rs(['switch', NEW]);
    expect(up.json.result, up.stdout + up.stderr).toMatchObject({ status: 'verified', snapshot: up.json.result.id });
    expect(db().schema).toBe(18);
    const back = await migrating.rs(['rollback']);
    expect(back.json.result, back.stdout + back.stderr).toMatchObject({ status: 'verified', to: OLD });
    expect(db().schema).toBe(17);
  });

  it('the installation moves: the boot-check cannot load (Cannot find module), and the `-` lets each start go on', async () => {
    rmSync(join(copy.dir, '..', '..', '..'), { recursive: true, force: true });
    expect(existsSync(copy.main)).toBe(false);
    const restarted = await manager.systemctl(['restart', plain.unit]);
    expect(restarted.exitCode, restarted.stdout + restarted.stderr).toBe(0);
    await expect.poll(async () => (await plain.health())?.version, { timeout: 20_000 }).toBe('1.0.0');
    expect(readFileSync(plain.log, 'utf8')).toMatch(/Cannot find module '.*rs-moved-.*main\.js'/);
    // What status and doctor now say of the service's start.
    const status = await plain.rs(['status'], { json: false });
    expect(status.stdout).toMatch(
      /BOOT-CHECK DID NOT RUN: the boot-check did not run at the unit's start .*Cannot find module/,
    );
    // A dry run of the switch says it would lose its checkpoint, before anything is tried.
    const plan = await plain.rs(['switch', '1.1.0', '--dry-run'], { json: false });
    expect(plan.stdout).toMatch(
      /checkpoint AT RISK: the boot-check did not run at the unit's start .*fails STATE_CHECKPOINT_MISSING/,
    );
    const json = (await plain.rs(['status'])).json.result;
    expect(json.bootCheck).toMatchObject({ atLastStart: 'did-not-run', last: { version: '1.0.0' } });
    const doctor = await plain.rs(['doctor']);
    expect(doctor.exitCode).toBe(1);
    expect(doctor.json.error.code).toBe('DOCTOR_FAILED');
    expect(doctor.json.result.checks.find((c: { name: string }) => c.name === 'boot-check-ran')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/did not run at the unit's start.*release-switcher unit --install/),
    });
  });

  it('switch 1.1.0 owed a checkpoint fails STATE_CHECKPOINT_MISSING (exit 3) and goes back: current 1.0.0, serving', async () => {
    const r = await plain.rs(['switch', '1.1.0']);
    expect([r.exitCode, r.json?.error?.code], r.stdout + r.stderr).toEqual([3, 'STATE_CHECKPOINT_MISSING']);
    const tx = r.json.result;
    expect(tx).toMatchObject({ status: 'rolled_back', reason: 'state_checkpoint_missing', from: '1.0.0', to: '1.1.0' });
    expect(tx.snapshot).toBeUndefined();
    expect(tx.steps.find((s: { name: string }) => s.name === 'verify').detail).toMatch(
      /^state_checkpoint_missing: no state checkpoint was taken before 1\.1\.0 first started \(the boot-check did not run at the unit's start/,
    );
    expect(r.json.error.message).toMatch(/1\.0\.0 is running again and verified, on the state 1\.1\.0 left/);
    expect(await currentOf(plain)).toBe('1.0.0');
    expect((await plain.health())?.version).toBe('1.0.0');
  });

  it(`switch ${NEW}, which migrates: not verified; going back is refused (no checkpoint, ${OLD} cannot read 18), ${NEW} stays current and serving`, async () => {
    const r = await migrating.rs(['switch', NEW]);
    expect([r.exitCode, r.json?.error?.code], r.stdout + r.stderr).toEqual([4, 'ROLLBACK_FAILED']);
    const tx = r.json.result;
    expect(tx).toMatchObject({ status: 'rollback_failed', reason: 'state_checkpoint_missing', from: OLD, to: NEW });
    expect(tx.steps.at(-1)).toMatchObject({
      name: 'rollback',
      status: 'failed',
      detail: expect.stringMatching(
        /no state snapshot from before 4\.1\.0 first started.*no state checkpoint was taken/,
      ),
    });
    expect(r.json.error.hint).toMatch(/4\.1\.0 stays current, not stopped by the way back\..*unit --install/);
    expect(await currentOf(migrating)).toBe(NEW); // current and the service agree: the release that migrated
    // The refusal is decided before 4.1.0 is even healthy (the missing checkpoint is the first thing verify checks, and
    // the schemas 4.1.0 declares say 4.0.0 cannot read what it writes): 4.1.0 goes on starting, serves, and migrates.
    await expect.poll(async () => (await migrating.health())?.version, { timeout: 30_000 }).toBe(NEW);
    await expect.poll(() => db().schema, { timeout: 30_000 }).toBe(18);
    // The operator was told at the switch; a later rollback is refused as before, nothing changed.
    const back = await migrating.rs(['rollback']);
    expect([back.exitCode, back.json?.error?.code]).toEqual([1, 'STATE_SNAPSHOT_MISSING']);
  });
});
