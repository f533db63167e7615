// The state machine driven through every path by a fake supervisor (no root, no systemd), in this process on roots the
// fixture writer made (no registry, no dist/): verified, each failure reason rolled back, rollback_failed, refused,
// and a rollback interrupted then resumed by recover. Killed by SIGKILL at the crash points before and at the flip,
// then recovered: fake-driver.test.ts (the built CLI, a real kill).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Journal } from '../../src/store/journal.ts';
import { isReleaseSwitcherError } from '../../src/model/errors.ts';
import { mutate } from '../../src/transaction/mutate.ts';
import { refusedError } from '../../src/service/refusal.ts';
import { fixtureRoots, killedAt } from '../support/fixture-root.ts';
import { linkOf, readState } from '../support/root.ts';
import {
  type Behaviour,
  type FakeSupervisor,
  configureRoot,
  fakeSupervision,
  switchThrough,
} from './fake-supervisor.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';

runThisFileAsRoot(
  'it drives transactions in this process (as root) on roots it made: root acts only on roots of its own',
);

/** 1.0.0 current, 1.2.0 installed. */
const freshRoot = fixtureRoots(['1.0.0', '1.2.0']);
const supervise = fakeSupervision();

async function supervised(
  behaviour: Record<string, Behaviour> = {},
  config: Record<string, unknown> = {},
): Promise<{ root: string; fake: FakeSupervisor }> {
  const root = freshRoot();
  return { root, fake: await supervise(root, behaviour, config) };
}

const switchTo = (root: string, fake: FakeSupervisor, target: string) => switchThrough(root, fake, target);

function recoverWith(root: string, fake: FakeSupervisor) {
  return mutate({ root }, 'test recover', async ({ recovery }) => recovery, { supervisor: fake });
}

const steps = (tx: { steps: { name: string; status: string }[] }) => tx.steps.map((s) => `${s.name}:${s.status}`);

// Each test has a root, a fake supervisor and a health port of its own, and mostly waits (restarts, verify timeouts):
// they run side by side.
describe.concurrent('driver with a fake supervisor', () => {
  it('verified: restart, verify, the release is good', async () => {
    const { root, fake } = await supervised();
    const tx = await switchTo(root, fake, '1.2.0');
    expect(tx).toMatchObject({ status: 'verified', from: '1.0.0', to: '1.2.0', finishedAt: expect.any(String) });
    expect(steps(tx)).toEqual(['verify-release:ok', 'flip:ok', 'restart:ok', 'verify:ok']);
    expect(fake.running).toBe('1.2.0');
    expect(linkOf(root, 'current')).toBe('releases/1.2.0');
    const state = readState(root);
    expect(state.transaction).toBeNull();
    expect(state.releases['1.2.0'].state).toBe('good');
    expect(state.history.at(-1).status).toBe('verified');
  });

  it.each(['restart_failed', 'unhealthy', 'version_mismatch', 'crashed', 'exit_78', 'timeout'] as const)(
    '%s: marked bad, rolled back to the previous release, verified',
    async (reason) => {
      const { root, fake } = await supervised({ '1.2.0': reason });
      const tx = await switchTo(root, fake, '1.2.0');
      expect(tx).toMatchObject({ status: 'rolled_back', reason, from: '1.0.0', to: '1.2.0' });
      expect(steps(tx).slice(-3)).toEqual(['rollback:ok', 'restart-previous:ok', 'verify-previous:ok']);
      expect(fake.running).toBe('1.0.0');
      expect(linkOf(root, 'current')).toBe('releases/1.0.0');
      const state = readState(root);
      expect(state.releases['1.2.0']).toMatchObject({
        state: 'bad',
        reason: expect.stringMatching(new RegExp(`^${reason}: `)),
      });
      expect(state.releases['1.0.0'].state).toBe('good');
      expect(state.transaction).toBeNull();
    },
  );

  it('rollback_failed: the previous release does not come back either; a hint for a human', async () => {
    const { root, fake } = await supervised({ '1.2.0': 'unhealthy', '1.0.0': 'crashed' });
    const tx = await switchTo(root, fake, '1.2.0');
    expect(tx).toMatchObject({
      status: 'rollback_failed',
      reason: 'unhealthy',
      hint: expect.stringContaining('switch VERSION'),
    });
    expect(steps(tx).at(-1)).toBe('rollback:failed');
    expect(readState(root).transaction).toBeNull();
  });

  it('a restart sudo refuses with the service untouched: PERMISSION_DENIED, the flip undone, the target installed again', async () => {
    const { root, fake } = await supervised();
    // What the systemd adapter throws for `sudo -n systemctl restart` without a sudoers line (service/refusal.ts).
    Object.assign(fake, { mayRefuse: true });
    fake.restart = async () => {
      throw refusedError(
        { by: 'sudo', said: 'sudo: a password is required' },
        {
          account: 'openclaw',
          verbs: ['restart'],
          unit: 'openclaw',
          systemctl: '/usr/bin/systemctl',
          command: 'sudo -n systemctl restart openclaw',
        },
      );
    };
    const pid = fake.pid;
    const previous = linkOf(root, 'previous');
    const error = await switchTo(root, fake, '1.2.0').catch((caught: unknown) => caught);
    expect(isReleaseSwitcherError(error) && error.code).toBe('PERMISSION_DENIED');
    expect((error as { hint: string }).hint).toContain(
      'openclaw ALL=(root) NOPASSWD: /usr/bin/systemctl restart openclaw',
    );
    expect((error as { result: unknown }).result).toMatchObject({ status: 'failed', reason: 'permission_denied' });
    expect(steps((error as { result: { steps: { name: string; status: string }[] } }).result)).toEqual([
      'verify-release:ok',
      'flip:ok',
      'restart:failed',
      'rollback:ok',
    ]);
    expect([fake.running, fake.pid]).toEqual(['1.0.0', pid]);
    expect([linkOf(root, 'current'), linkOf(root, 'previous')]).toEqual(['releases/1.0.0', previous]);
    const state = readState(root);
    expect(state.transaction).toBeNull();
    expect(state.releases['1.2.0'].state).toBe('installed');
    // Control: a restart that failed for another reason is the release's failure, rolled back, the release bad.
    const other = await supervised({ '1.2.0': 'restart_failed' });
    expect(await switchTo(other.root, other.fake, '1.2.0')).toMatchObject({ status: 'rolled_back' });
  });

  it('refused: going back across a schema change without a snapshot is STATE_SNAPSHOT_MISSING, nothing changed', async () => {
    const { root, fake } = await supervised();
    expect((await switchTo(root, fake, '1.2.0')).status).toBe('verified');
    configureRoot(root, { schemaField: 'version' }); // 1.0.0 does not declare what 1.2.0 declares
    const error = await switchTo(root, fake, '1.0.0').catch((e: unknown) => e);
    expect(isReleaseSwitcherError(error) && error.code).toBe('STATE_SNAPSHOT_MISSING');
    expect(linkOf(root, 'current')).toBe('releases/1.2.0');
    expect(fake.running).toBe('1.2.0');
    const last = readState(root).history.at(-1);
    expect(last).toMatchObject({ status: 'failed', reason: 'state_snapshot_missing' });
    expect(steps(last)).toEqual(['verify-release:ok', 'check-state:failed']);
  });

  it('killed while rolling back: recover re-enters the way back and ends rolled_back', async () => {
    const { root, fake } = await supervised();
    expect((await switchTo(root, fake, '1.2.0')).status).toBe('verified');
    const state = readState(root);
    const tx = {
      ...state.history.at(-1),
      status: 'rolling_back',
      reason: 'unhealthy',
      finishedAt: null,
      before: { current: '1.0.0', previous: null },
    };
    writeFileSync(
      join(root, 'state.json'),
      JSON.stringify({ ...state, transaction: tx, history: state.history.slice(0, -1) }),
    );
    fake.behaviour['1.2.0'] = 'unhealthy';
    const report = await recoverWith(root, fake);
    expect(report.transaction).toMatchObject({ status: 'rolled_back', reason: 'unhealthy' });
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    expect(fake.running).toBe('1.0.0');
  });
});

// Alone: it wraps Journal.prototype.commit, which every transaction of this process would go through.
describe('driver with a fake supervisor, its journal', () => {
  it('journals the way to the flip in two writes: the transaction with verify-release running, then the flip running (no rehearsal configured)', async () => {
    const { root, fake } = await supervised();
    const written: string[][] = [];
    const original = Journal.prototype.commit;
    Journal.prototype.commit = async function (this: Journal, point?: Parameters<Journal['commit']>[0]) {
      written.push((this.state.transaction?.steps ?? []).map((step) => `${step.name}:${step.status}`));
      return original.call(this, point);
    };
    onTestFinished(() => {
      Journal.prototype.commit = original;
    });
    expect((await switchTo(root, fake, '1.2.0')).status).toBe('verified');
    const flipped = written.findIndex((steps) => steps.includes('flip:running'));
    expect(written.slice(0, flipped + 1)).toEqual([['verify-release:running'], ['verify-release:ok', 'flip:running']]);
  });
});

// What a SIGKILL at a crash point leaves, recovered: the root copied at the point in process (killedAt). One at a time:
// the crash point is the process's. The built CLI killed for real at the same points: fake-driver.test.ts.
describe('driver with a fake supervisor, killed at a crash point (in process)', () => {
  const before = ['activate:begin', 'activate:verified-release', 'activate:previous-flipped'] as const;
  it.each(before)('killed at %s, before the flip: recover undoes it', async (point) => {
    const { root, fake } = await supervised();
    const killed = await killedAt(root, point, () => switchTo(root, fake, '1.2.0'));
    // The service as the killed run left it: 1.0.0 running, never restarted (the killed run's own fake saw its
    // unwinding in this process, which a killed process never has).
    const service = await supervise(killed);
    const report = await recoverWith(killed, service);
    expect(report.transaction).toMatchObject({ status: 'failed', reason: 'interrupted' });
    expect(linkOf(killed, 'current')).toBe('releases/1.0.0');
    expect(service.running).toBe('1.0.0');
    expect(readState(killed).releases['1.2.0'].state).toBe('installed');
  });

  it.each([
    { behaviour: 'ok' as const, status: 'verified', current: '1.2.0' },
    { behaviour: 'unhealthy' as const, status: 'rolled_back', current: '1.0.0' },
  ])(
    'killed at activate:current-flipped: recover re-enters at restart and ends $status',
    async ({ behaviour, status, current }) => {
      const { root, fake } = await supervised({ '1.2.0': behaviour });
      const killed = await killedAt(root, 'activate:current-flipped', () => switchTo(root, fake, '1.2.0'));
      expect(readState(killed).transaction.status).toBe('switching');
      const service = await supervise(killed, { '1.2.0': behaviour }); // 1.0.0 running: never restarted
      const report = await recoverWith(killed, service);
      expect(report.transaction).toMatchObject({ status, to: '1.2.0' });
      expect(steps(report.transaction!)).toEqual(expect.arrayContaining(['flip:failed', 'recover:ok', 'restart:ok']));
      expect(linkOf(killed, 'current')).toBe(`releases/${current}`);
      expect(service.running).toBe(current);
    },
  );
});
