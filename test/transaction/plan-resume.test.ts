// Recovery's decision as data: where the driver re-enters an interrupted transaction, from the journal
// and the links alone (no file system, no supervisor).
import { describe, expect, it } from 'vitest';
import { isReleaseSwitcherError } from '../../src/model/errors.ts';
import type { Step, Transaction, TransactionStatus } from '../../src/model/state.ts';
import { RUNNER_GRACE_MS } from '../../src/store/journal.ts';
import { openTransaction } from '../../src/transaction/record.ts';
import { planResume } from '../../src/transaction/recover.ts';

function tx(status: TransactionStatus, steps: Step['name'][] = [], extra: Partial<Transaction> = {}): Transaction {
  const opened = openTransaction({
    kind: 'switch',
    status: 'switching',
    from: '1.0.0',
    to: '1.2.0',
    before: { current: '1.0.0', previous: null },
  });
  return { ...opened, status, steps: steps.map((name) => ({ name, status: 'ok', ms: 0 })), ...extra };
}

describe('planResume', () => {
  it('not flipped (current is not the target): undo, reason interrupted', () => {
    for (const status of ['switching', 'staging', 'restarting'] as const) {
      expect(planResume(tx(status, ['verify-release']), { current: '1.0.0', supervised: true })).toMatchObject({
        at: 'undo',
        reason: 'interrupted',
        note: expect.stringContaining('current stays 1.0.0'),
      });
    }
  });

  it('flipped under a supervisor: restart, or verify once the restart was done', () => {
    expect(
      planResume(tx('switching', ['verify-release', 'flip']), { current: '1.2.0', supervised: true }),
    ).toMatchObject({ at: 'restart', note: expect.stringContaining('restart and verify') });
    expect(
      planResume(tx('verifying', ['verify-release', 'flip', 'restart']), { current: '1.2.0', supervised: true }),
    ).toMatchObject({ at: 'verify', note: expect.stringContaining('(verify)') });
  });

  it('flipped, killed while the handoff or the finalize ran (the service stopped): the way back, finalize_interrupted', () => {
    for (const name of ['restart-handoff', 'finalize'] as const) {
      const interrupted = tx('restarting', ['verify-release', 'flip']);
      interrupted.steps.push({ name, status: 'running', ms: 0 });
      expect(planResume(interrupted, { current: '1.2.0', supervised: true })).toMatchObject({
        at: 'roll-back',
        failure: { reason: 'finalize_interrupted' },
        note: expect.stringContaining('1.0.0 and its state return'),
      });
    }
    // A finalize that finished, then a kill before the restart was done: carried on as before.
    expect(
      planResume(tx('restarting', ['verify-release', 'flip', 'restart-handoff', 'finalize']), {
        current: '1.2.0',
        supervised: true,
      }),
    ).toMatchObject({ at: 'restart' });
  });

  it('flipped, killed in the finalize step of a switch with nothing to finalize (an exact restore, a move of the Node alone): carried on', () => {
    const exact = tx('restarting', ['verify-release', 'flip'], { restore: { snapshot: 's1', version: '1.2.0' } });
    const alone = tx('restarting', ['verify-release', 'flip'], { from: '1.2.0' });
    for (const cut of [exact, alone]) {
      cut.steps.push({ name: 'finalize', status: 'running', ms: 0 });
      expect(planResume(cut, { current: '1.2.0', supervised: true })).toMatchObject({ at: 'restart' });
    }
    // Recovery's restart already finished the restore that was cut and the target serves: on to its verification.
    expect(planResume(exact, { current: '1.2.0', supervised: true, restarted: true })).toMatchObject({
      at: 'verify',
      note: expect.stringContaining('recovery restarted it'),
    });
    // A snapshot put back that is not the target's own (another release left it): finalize runs, so a cut goes back.
    const other = tx('restarting', ['verify-release', 'flip'], { restore: { snapshot: 's1', version: '1.0.0' } });
    other.steps.push({ name: 'finalize', status: 'running', ms: 0 });
    expect(planResume(other, { current: '1.2.0', supervised: true })).toMatchObject({ at: 'roll-back' });
  });

  it('flipped with supervisor none: finish, switched by recover', () => {
    expect(planResume(tx('switching', ['flip']), { current: '1.2.0', supervised: false })).toEqual({
      at: 'finish',
      reason: 'interrupted, finished by recover',
      note: expect.stringContaining('finished the interrupted switch'),
    });
  });

  it('rolling back under a supervisor: the way back, with the reason it was on', () => {
    const entry = planResume(tx('rolling_back', ['flip', 'restart', 'verify'], { reason: 'unhealthy' }), {
      current: '1.2.0',
      supervised: true,
    });
    expect(entry).toMatchObject({ at: 'roll-back', failure: { reason: 'unhealthy' } });
  });

  it('scheduled: BUSY while its runner may still report; undo as runner_never_ran / runner_died after the grace period', () => {
    const now = new Date().toISOString();
    const fresh = tx('scheduled', [], { scheduledAt: now });
    const error = (() => {
      try {
        planResume(fresh, { current: '1.0.0', supervised: false });
      } catch (e) {
        return e;
      }
    })();
    expect(isReleaseSwitcherError(error) && error.code).toBe('BUSY');
    const old = new Date(Date.now() - RUNNER_GRACE_MS - 1000).toISOString();
    expect(
      planResume(tx('scheduled', [], { scheduledAt: old }), { current: '1.0.0', supervised: false }),
    ).toMatchObject({ at: 'undo', reason: 'runner_never_ran' });
    expect(
      planResume(tx('scheduled', [], { scheduledAt: old, heartbeatAt: old }), { current: '1.0.0', supervised: false }),
    ).toMatchObject({ at: 'undo', reason: 'runner_died' });
  });
});
