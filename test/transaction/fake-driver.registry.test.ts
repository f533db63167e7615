// The state machine killed by SIGKILL (the built CLI, a real kill at its crash points) before and at the flip, then
// resumed by recover through a fake supervisor (no root, no systemd). Every other path of the driver with the fake
// supervisor runs in process on roots written on disk: driver.test.ts.
import { describe, expect, it } from 'vitest';
import { mutate } from '../../src/transaction/mutate.ts';
import { rs, templateRoot } from '../support/cli.ts';
import { linkOf, readState } from '../support/root.ts';
import { type Behaviour, type FakeSupervisor, fakeSupervision } from './fake-supervisor.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';

runThisFileAsRoot(
  'it drives transactions in this process (as root) on roots it made: root acts only on roots of its own',
);

/** 1.0.0 current, 1.2.0 installed. */
const freshRoot = templateRoot(['1.0.0', '1.2.0']);
const supervise = fakeSupervision();

async function supervised(
  behaviour: Record<string, Behaviour> = {},
  config: Record<string, unknown> = {},
): Promise<{ root: string; fake: FakeSupervisor }> {
  const root = freshRoot();
  return { root, fake: await supervise(root, behaviour, config) };
}

function recoverWith(root: string, fake: FakeSupervisor) {
  return mutate({ root }, 'test recover', async ({ recovery }) => recovery, { supervisor: fake });
}

const steps = (tx: { steps: { name: string; status: string }[] }) => tx.steps.map((s) => `${s.name}:${s.status}`);

describe('driver with a fake supervisor, killed by SIGKILL', () => {
  const before = ['activate:begin', 'activate:verified-release', 'activate:previous-flipped'];
  it.each(before)('killed at %s, before the flip: recover undoes it', async (point) => {
    const { root, fake } = await supervised();
    const crashed = await rs(root, ['switch', '1.2.0'], { env: { RELEASE_SWITCHER_CRASH_AT: point } });
    expect(crashed.signal).toBe('SIGKILL');
    const report = await recoverWith(root, fake);
    expect(report.transaction).toMatchObject({ status: 'failed', reason: 'interrupted' });
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    expect(fake.running).toBe('1.0.0');
    expect(readState(root).releases['1.2.0'].state).toBe('installed');
  });

  it.each([
    { behaviour: 'ok' as const, status: 'verified', current: '1.2.0' },
    { behaviour: 'unhealthy' as const, status: 'rolled_back', current: '1.0.0' },
  ])(
    'killed at activate:current-flipped: recover re-enters at restart and ends $status',
    async ({ behaviour, status, current }) => {
      const { root, fake } = await supervised({ '1.2.0': behaviour });
      const crashed = await rs(root, ['switch', '1.2.0'], {
        env: { RELEASE_SWITCHER_CRASH_AT: 'activate:current-flipped' },
      });
      expect(crashed.signal).toBe('SIGKILL');
      expect(readState(root).transaction.status).toBe('switching');
      const report = await recoverWith(root, fake);
      expect(report.transaction).toMatchObject({ status, to: '1.2.0' });
      expect(steps(report.transaction!)).toEqual(expect.arrayContaining(['flip:failed', 'recover:ok', 'restart:ok']));
      expect(linkOf(root, 'current')).toBe(`releases/${current}`);
      expect(fake.running).toBe(current);
    },
  );
});
