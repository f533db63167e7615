import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fixtureRoots } from '../support/fixture-root.ts';
import { linkOf, readState } from '../support/root.ts';
import { type FakeSupervisor, fakeSupervision, switchThrough } from './fake-supervisor.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';

runThisFileAsRoot(
  'it drives transactions in this process (as root) on roots it made: root acts only on roots of its own',
);

const judged = vi.hoisted(() => ({
  calls: [] as Array<{ name: string; target: string; checkpoint: string | undefined }>,
  answer: undefined as undefined | { message: string; hint: string } | Error,
}));

vi.mock('../../src/transaction/database-preflight-step.ts', async (original) => ({
  ...(await original<typeof import('../../src/transaction/database-preflight-step.ts')>()),
  judgeStep: async (
    _session: unknown,
    _tx: unknown,
    options: { name: string; target: string; checkpoint: string | undefined },
  ) => {
    judged.calls.push({ name: options.name, target: options.target, checkpoint: options.checkpoint });
    if (judged.answer instanceof Error) throw judged.answer;
    return judged.answer;
  },
}));

/** 1.0.0 current, 1.2.0 installed. */
const freshRoot = fixtureRoots(['1.0.0', '1.2.0']);
const supervise = fakeSupervision();
beforeEach(() => {
  judged.calls.length = 0;
  judged.answer = undefined;
});

/** A root whose 1.2.0 is unhealthy under the fake supervisor, 1.0.0 serving. */
async function failingUpdate(): Promise<{ root: string; fake: FakeSupervisor }> {
  const root = freshRoot();
  return { root, fake: await supervise(root, { '1.2.0': 'unhealthy' }) };
}

const switchTo = (root: string, fake: FakeSupervisor, target: string) => switchThrough(root, fake, target);

describe('the way back asks the previous release whether it can read the state', () => {
  it('refused: rollback_failed with the verdict and a hint; the failed release stays current, the previous never started', async () => {
    const { root, fake } = await failingUpdate();
    judged.answer = {
      message: 'its database preflight says /s/openclaw.sqlite: incompatible',
      hint: '1.0.0 cannot run on this state.',
    };
    const tx = await switchTo(root, fake, '1.2.0');
    expect(judged.calls).toEqual([{ name: 'database-preflight-previous', target: '1.0.0', checkpoint: undefined }]);
    expect(tx).toMatchObject({ status: 'rollback_failed', reason: 'unhealthy', from: '1.0.0', to: '1.2.0' });
    const names = tx.steps.map((s) => `${s.name}:${s.status}`);
    expect(names).not.toContain('restart-previous:ok');
    expect(names.filter((n) => n.startsWith('restart'))).toEqual(['restart:ok']);
    expect(tx.steps.at(-1)).toMatchObject({
      name: 'rollback',
      status: 'failed',
      detail: 'not going back to 1.0.0: its database preflight says /s/openclaw.sqlite: incompatible',
    });
    expect(tx.hint).toBe(
      '1.2.0 stays current and was not stopped by the way back; 1.0.0 was not started. 1.0.0 cannot run on this state. Look at 1.2.0 (release-switcher status), then switch to a release that can read this state.',
    );
    expect(linkOf(root, 'current')).toBe('releases/1.2.0');
    expect(fake.running).toBe('1.2.0'); // the supervisor was not asked to start anything else
    expect(readState(root).releases['1.2.0'].state).toBe('bad');
  });

  it('a check that cannot run refuses the same way, saying so', async () => {
    const { root, fake } = await failingUpdate();
    judged.answer = new Error('spawn EACCES');
    const tx = await switchTo(root, fake, '1.2.0');
    expect(tx.status).toBe('rollback_failed');
    expect(tx.steps.at(-1)?.detail).toBe(
      'not going back to 1.0.0: its database preflight could not run (spawn EACCES)',
    );
    expect(linkOf(root, 'current')).toBe('releases/1.2.0');
    expect(fake.running).toBe('1.2.0');
  });

  it('accepted: the previous release is flipped back, restarted and verified as before', async () => {
    const { root, fake } = await failingUpdate();
    const tx = await switchTo(root, fake, '1.2.0');
    expect(judged.calls).toEqual([{ name: 'database-preflight-previous', target: '1.0.0', checkpoint: undefined }]);
    expect(tx).toMatchObject({ status: 'rolled_back', reason: 'unhealthy' });
    expect(tx.steps.slice(-3).map((s) => `${s.name}:${s.status}`)).toEqual([
      'rollback:ok',
      'restart-previous:ok',
      'verify-previous:ok',
    ]);
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    expect(fake.running).toBe('1.0.0');
  });
});
