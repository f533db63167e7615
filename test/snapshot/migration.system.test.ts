// Update and roll back across a state migration, under a real private systemd --user, as openclaw
// 2026.9.5 → 2026.9.6 does it: the newer release migrates its database on first start (17 → 18, a
// backup beside it), and the older one then refuses to start (exit 78). The boot-check snapshots the
// state before the first start and puts it back before the older release starts again.
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWhere } from '../support/skip.ts';
import { SCHEMA_RELEASES } from '../support/fixtures.ts';
import { readState } from '../support/root.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';
import { type ManagedGateway, managedGateway } from '../support/service.ts';
import type { Step } from '../../src/model/state.ts';

const can = canRunUserManager();
const { old: OLD, new: NEW, broken: BROKEN, crashing: CRASHING } = SCHEMA_RELEASES;

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describeWhere(can, `state snapshot across a schema migration, under systemd --user`, () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  let stateDir: string;
  const db = () => JSON.parse(readFileSync(join(stateDir, 'state.db'), 'utf8'));
  const wal = () => JSON.parse(readFileSync(join(stateDir, 'state.db-wal'), 'utf8'));
  const snapshots = () =>
    existsSync(join(gw.root, 'snapshots')) ? readdirSync(join(gw.root, 'snapshots')).sort() : [];
  const stepNames = (result: { steps: Step[] }) => result.steps.map((s) => s.name);
  const step = (result: { steps: Step[] }, name: string) => result.steps.find((s) => s.name === name);
  const active = async () =>
    (await manager.systemctl(['show', gw.unit, '--property=ActiveState', '--value'])).stdout.trim();

  beforeAll(async () => {
    manager = await startUserManager({ name: 'schema' });
    stateDir = join(manager.root, 'gateway-state');
    gw = await managedGateway(manager, {
      name: 'rs-schema',
      // Every fixture here that fails does so before it is healthy (never-healthy, crash-on-start): nothing to catch
      // in a long stability window, which every verified switch and rollback would wait out (4 s by default).
      stableFor: 1,
      init: ['--state-path', join(stateDir, 'state.db'), '--schema-field', 'rsFixture.schemaVersions'],
      environment: { STATE_DIR: stateDir },
    });
    for (const version of [OLD, NEW, BROKEN, CRASHING]) {
      const r = await gw.rs(['install', `rs-fixture-gateway@${version}`]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    }
  }, 180_000);
  afterAll(async () => manager?.stop());

  it(`${OLD} runs and creates its state at schema 17`, async () => {
    const r = await gw.rs(['switch', OLD]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toMatchObject({ status: 'verified', to: OLD });
    expect(r.json.result.snapshot).toBeUndefined(); // a first activation has nothing to go back to
    expect(db()).toMatchObject({ schema: 17, migrations: [] });
  });

  it(`update to ${NEW}: the boot-check snapshots the state before its first start, ${NEW} migrates it, verified`, async () => {
    const r = await gw.rs(['update', 'rs-fixture-gateway@schema']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const tx = r.json.result;
    expect(tx).toMatchObject({ status: 'verified', from: OLD, to: NEW, snapshot: tx.id });
    expect(db()).toMatchObject({ schema: 18, migrations: ['17->18'] });
    expect(readdirSync(stateDir).filter((n) => n.startsWith('state.db.pre-startup-migration-'))).toHaveLength(1);
    const manifest = JSON.parse(readFileSync(join(gw.root, 'snapshots', tx.id, 'snapshot.json'), 'utf8'));
    expect(manifest).toMatchObject({
      id: tx.id,
      fromVersion: OLD,
      toVersion: NEW,
      entries: [{ path: join(stateDir, 'state.db'), type: 'file' }],
    });
    expect(manifest.entries[0].companions).toEqual([
      { suffix: '-wal', present: true, size: expect.any(Number) },
      { suffix: '-shm', present: false },
      { suffix: '-journal', present: false },
    ]);
    const stored = join(gw.root, 'snapshots', tx.id, manifest.entries[0].stored);
    expect(JSON.parse(readFileSync(stored, 'utf8')).schema).toBe(17);
    expect(JSON.parse(readFileSync(`${stored}-wal`, 'utf8')).schema).toBe(17);
    // Issue 21 (secrets): the copy keeps the source file's mode, so the folder holding it is the owner's only.
    expect(statSync(join(gw.root, 'snapshots')).mode & 0o777).toBe(0o700);
  });

  it(`rollback to ${OLD}: the snapshot goes back before ${OLD} starts (without it, exit 78), verified`, async () => {
    const r = await gw.rs(['rollback']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const tx = r.json.result;
    expect(tx).toMatchObject({ kind: 'rollback', status: 'verified', from: NEW, to: OLD });
    expect(stepNames(tx)).toEqual(['verify-release', 'check-state', 'flip', 'restore-state', 'restart', 'verify']);
    expect(step(tx, 'restore-state')).toMatchObject({
      status: 'ok',
      // The state is a database file, not a folder: copied back with its companions (only folders are swapped in).
      detail: expect.stringMatching(
        /put back by boot-check before 4\.0\.0 started: .*; no folder to swap: copied back$/,
      ),
    });
    expect(db().schema).toBe(17);
    expect(wal()).toMatchObject({ schema: 17, by: OLD });
    expect((await gw.health())?.version).toBe(OLD);
    // The migration's own backup is the release's business: left where it was.
    expect(readdirSync(stateDir).filter((n) => n.startsWith('state.db.pre-startup-migration-'))).toHaveLength(1);
  });

  it(`a boot-check run by hand while ${OLD} runs does nothing: systemd reports a main process, so this is no start`, async () => {
    const before = readFileSync(join(stateDir, 'state.db'), 'utf8');
    const r = await gw.rs(['boot-check']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toMatchObject({
      version: OLD,
      action: 'live',
      tries: 0,
      detail: expect.stringMatching(/is active\/running with main process \d+/),
    });
    expect(readFileSync(join(stateDir, 'state.db'), 'utf8')).toBe(before);
  });

  /** Turn a rehearsal on and switch to NEW (it migrates the state to 18); `done` puts config and snapshots back as they were. */
  async function rehearsedSwitchToNew() {
    const config = readFileSync(join(gw.root, 'config.json'), 'utf8');
    const init = await gw.rs([
      'init',
      '--preflight',
      'server.js --port {port}',
      '--preflight-env',
      'STATE_DIR={state}',
      '--preflight-for',
      '1',
    ]);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    const up = await gw.rs(['switch', NEW]);
    expect(up.json.result, up.stdout + up.stderr).toMatchObject({ status: 'verified', snapshot: up.json.result.id });
    expect(db().schema).toBe(18);
    // As it was before: no rehearsal, and not this test's snapshot (the prune test counts them).
    const done = () => {
      writeFileSync(join(gw.root, 'config.json'), config);
      rmSync(join(gw.root, 'snapshots', up.json.result.id), { recursive: true, force: true });
    };
    return { up: up.json.result, done };
  }

  /** `rollback` from NEW to OLD across the migration: verified, the snapshot of `up` put back on the way. */
  async function rollbackAcross(up: { id: string }) {
    const r = await gw.rs(['rollback']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const tx = r.json.result;
    expect(tx).toMatchObject({
      kind: 'rollback',
      status: 'verified',
      from: NEW,
      to: OLD,
      restore: { snapshot: up.id, version: OLD },
    });
    expect(stepNames(tx)).toEqual([
      'verify-release',
      'check-state',
      'preflight',
      'flip',
      'restore-state',
      'restart',
      'verify',
    ]);
    return tx;
  }

  it(`with a rehearsal configured, a rollback across the migration to ${OLD}, not verified here, rehearses it on the snapshot it will start on, not on the migrated live state`, async () => {
    const { up, done } = await rehearsedSwitchToNew();
    expect(step(up, 'preflight')).toMatchObject({ status: 'ok' });
    // As if OLD's verification had never completed here (a release verified here goes back unrehearsed: next test).
    const journal = readState(gw.root);
    journal.releases[OLD].state = 'pending';
    writeFileSync(join(gw.root, 'state.json'), JSON.stringify(journal));
    const tx = await rollbackAcross(up);
    // On the live state (schema 18) the rehearsal of OLD would have exited 78 and refused the rollback.
    expect(step(tx, 'preflight')).toMatchObject({ status: 'ok' });
    expect(db().schema).toBe(17);
    expect((await gw.health())?.version).toBe(OLD);
    done();
  });

  it(`with a rehearsal configured, a rollback to ${OLD}, verified here and starting on the snapshot taken when it was left, is not rehearsed: nothing to prove that its verification did not`, async () => {
    expect(readState(gw.root).releases[OLD].state).toBe('good');
    const { up, done } = await rehearsedSwitchToNew();
    const tx = await rollbackAcross(up);
    expect(step(tx, 'preflight')).toMatchObject({
      status: 'skipped',
      detail: `${OLD} was verified here and starts on the state it was left with (snapshot ${up.id}): nothing to rehearse`,
    });
    expect(existsSync(join(gw.root, 'preflight')) ? readdirSync(join(gw.root, 'preflight')) : []).toEqual([]); // no private copy was made
    expect(db().schema).toBe(17);
    expect((await gw.health())?.version).toBe(OLD);
    done();
  });

  it(`a release that migrates and then fails is rolled back automatically, its state put back (${BROKEN}: 18 → 19, never healthy)`, async () => {
    const up = await gw.rs(['switch', NEW]); // again: a new snapshot, taken before this very start
    expect(up.json.result).toMatchObject({ status: 'verified', snapshot: up.json.result.id });
    expect(db().schema).toBe(18);
    const r = await gw.rs(['switch', BROKEN]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(3);
    const tx = r.json.result;
    expect(tx).toMatchObject({
      status: 'rolled_back',
      from: NEW,
      to: BROKEN,
      reason: 'unhealthy',
      restore: { snapshot: tx.id, version: NEW },
    });
    expect(stepNames(tx).slice(-4)).toEqual(['rollback', 'restore-state', 'restart-previous', 'verify-previous']);
    expect(step(tx, 'restore-state').status).toBe('ok');
    expect(db().schema).toBe(18);
    expect((await gw.health())?.version).toBe(NEW);
  });

  it(`with the runner killed, the boot-check flips a crash-looping release back and puts the state back itself (${CRASHING}: 18 → 19, crashes)`, async () => {
    const r = await gw.rs(['switch', CRASHING, '--handoff', 'always']);
    expect([r.exitCode, r.json?.result?.status], r.stdout + r.stderr).toEqual([0, 'scheduled']);
    const inFlight = () => readState(gw.root).transaction;
    // Until the restart has begun: the boot-check of CRASHING's first start published the checkpoint. 'restarting' alone
    // is journaled before the runner stages that checkpoint; killed then (seen at load 8-10), nothing was restarted.
    const published = () => existsSync(join(gw.root, 'snapshots', r.json.result.id, 'snapshot.json'));
    const undecided = () => ['restarting', 'verifying'].includes(inFlight()?.status);
    await until('the restart', undecided);
    const runner = `release-switcher-${r.json.result.id}.service`;
    const pid = Number((await manager.systemctl(['show', runner, '--property=MainPID', '--value'])).stdout.trim());
    expect(pid, `${runner} has a main process`).toBeGreaterThan(0);
    // Killed once the restart began and before the runner judged CRASHING's start itself: at a load of 9 its own
    // verification saw the crash first (reason "crashed", its rollback begun) between a look and the kill. So each look
    // is made with the runner stopped (SIGSTOP), and it is killed in the state that look saw, or let go on (SIGCONT).
    await until('the restart, the runner stopped before its verdict', () => {
      process.kill(pid, 'SIGSTOP');
      if (published() && undecided()) {
        process.kill(pid, 'SIGKILL');
        return true;
      }
      process.kill(pid, 'SIGCONT');
      return false;
    });
    // Restart=always keeps starting it; its first start migrated the state to 19, which NEW cannot read.
    await until(`${NEW} serving again`, async () => (await gw.health())?.version === NEW, 40_000).catch((error) => {
      throw new Error(
        `${error.message}\nstate: ${JSON.stringify(inFlight())}\nlog: ${readFileSync(gw.log, 'utf8').slice(-3000)}`,
      );
    });
    expect(db().schema).toBe(18);
    const tx = inFlight();
    expect(existsSync(join(gw.root, 'snapshots', tx.id, 'snapshot.json'))).toBe(true);
    expect(tx).toMatchObject({
      id: r.json.result.id,
      status: 'rolling_back',
      reason: 'crash_loop',
      restore: { snapshot: tx.id, version: NEW },
    });
    expect(step(tx, 'restore-state')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/put back by boot-check/),
    });
    const recovered = await gw.rs(['recover']);
    expect(recovered.json.result).toMatchObject({ id: tx.id, status: 'rolled_back', reason: 'crash_loop' });
    expect(stepNames(recovered.json.result).filter((n: string) => n === 'restore-state')).toHaveLength(1); // not twice
    expect(db().schema).toBe(18);
    expect((await gw.health())?.version).toBe(NEW);
  });

  it('prune takes the snapshots of pruned releases and superseded ones along', async () => {
    const ids = snapshots();
    expect(ids).toHaveLength(4); // update to NEW, switch to NEW again, switch to BROKEN, switch to CRASHING
    const r = await gw.rs(['prune', '--keep', '0']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result.removed.sort()).toEqual([BROKEN, CRASHING]);
    expect(r.json.result.removedSnapshots.sort()).toEqual([ids[0], ids[2], ids[3]].sort());
    expect(snapshots()).toEqual([ids[1]]);
  });

  it('without a snapshot, a rollback across the schema change is refused: exit 1, nothing changed, the service still runs', async () => {
    rmSync(join(gw.root, 'snapshots'), { recursive: true, force: true });
    const r = await gw.rs(['rollback']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.json.error).toMatchObject({
      code: 'STATE_SNAPSHOT_MISSING',
      message: expect.stringMatching(/4\.0\.0 cannot start on state that 4\.1\.0 migrated/),
      hint: expect.stringMatching(/Stay on 4\.1\.0/),
    });
    expect(r.json.result).toMatchObject({ status: 'failed', reason: 'state_snapshot_missing', from: NEW, to: OLD });
    expect(readState(gw.root).history.at(-1)).toMatchObject({ status: 'failed', reason: 'state_snapshot_missing' });
    expect((await gw.health())?.version).toBe(NEW);
    expect(await active()).toBe('active');
    expect(db().schema).toBe(18);
  });

  // Last: it leaves the failed release in place on purpose.
  it('an automatic rollback that cannot put the state back is refused: rollback_failed, the failed release stays current', async () => {
    // No state paths any more, so no snapshot is taken before BROKEN starts (and migrates to 19).
    const config = JSON.parse(readFileSync(join(gw.root, 'config.json'), 'utf8'));
    writeFileSync(join(gw.root, 'config.json'), JSON.stringify({ ...config, statePaths: [] }));
    expect((await gw.rs(['install', `rs-fixture-gateway@${BROKEN}`])).exitCode).toBe(0); // pruned above
    const r = await gw.rs(['switch', BROKEN]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(4);
    expect(r.json.error).toMatchObject({ code: 'ROLLBACK_FAILED', hint: expect.stringMatching(/Stay on 4\.2\.0/) });
    expect(r.json.result).toMatchObject({ status: 'rollback_failed', from: NEW, to: BROKEN, reason: 'unhealthy' });
    expect(r.json.result.steps.at(-1)).toMatchObject({
      name: 'rollback',
      status: 'failed',
      detail: expect.stringMatching(/not going back to 4\.1\.0: 4\.1\.0 cannot start on state that 4\.2\.0 migrated/),
    });
    expect(readlinkSync(join(gw.root, 'current'))).toBe(`releases/${BROKEN}`);
    expect(db().schema).toBe(19);
    expect(await active()).toBe('active'); // unhealthy, but not a unit that exited 78 for good
  });
});
