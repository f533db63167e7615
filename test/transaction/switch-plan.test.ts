// A switch as data (switch-plan.ts): every step in order, each with its undo and its part of the stop window, and the
// way back; the order is the record's (steps.ts SWITCH_STEPS), and the options and facts take steps out, nothing else.
import { describe, expect, it } from 'vitest';
import { runThisFileAsRoot } from '../support/accounts.ts';
import { fixtureRoots } from '../support/fixture-root.ts';
import { fakeSupervision, switchThrough } from './fake-supervisor.ts';
import { SWITCH_STEPS } from '../../src/transaction/steps.ts';
import { journaled, switchPlan } from '../../src/transaction/switch-plan.ts';

runThisFileAsRoot('it walks one plan in this process (as root) on roots it made: root acts only on roots of its own');

/** 1.0.0 current, 1.2.0 installed. */
const freshRoot = fixtureRoots(['1.0.0', '1.2.0']);
const supervise = fakeSupervision();

const openclaw = {
  supervised: true,
  handoff: true,
  finalize: true,
  review: true,
  ahead: true,
  database: true,
  checkState: true,
};

describe('switchPlan', () => {
  it('an OpenClaw update: the stop window parts are steps of the plan, in the record order, each with its undo', () => {
    const plan = switchPlan({}, { ...openclaw, install: true, preflight: false, restore: false });
    expect(plan.forward.map((step) => step.name)).toEqual([
      'install',
      'verify-release',
      'check-state',
      'database-preflight',
      'finalize-ahead',
      'capability-review',
      'prepare',
      'flip',
      'restart-handoff',
      'finalize',
      'restart',
      'verify',
    ]);
    const journaledNames = journaled(plan.forward);
    expect(journaledNames).not.toContain('prepare');
    expect(journaledNames).toEqual(SWITCH_STEPS.filter((name) => journaledNames.includes(name)));
    expect(plan.forward.flatMap((step) => step.window ?? [])).toEqual([
      'handoff',
      'stop',
      'consume',
      'stop',
      'checkpoint',
      'finalize',
      'start',
      'start-to-healthy',
    ]);
    // Before the flip nothing serves the target: undo; from the flip on, a step of the way back undoes it.
    const backNames = plan.back.map((step) => step.name);
    for (const step of plan.forward.filter((s) => s.undo)) expect(['undo', ...backNames]).toContain(step.undo);
    expect(plan.forward.find((step) => step.name === 'flip')?.undo).toBe('rollback');
    expect(backNames).toEqual([
      'state-return',
      'database-preflight-previous',
      'rollback',
      'restore-state',
      'restart-previous',
      'verify-previous',
    ]);
  });

  it('--no-preflight takes the rehearsal out; a snapshot put back takes the capability review out', () => {
    const facts = { ...openclaw, preflight: true, restore: true };
    expect(journaled(switchPlan({}, facts).forward)).toContain('preflight');
    expect(journaled(switchPlan({ preflight: false }, facts).forward)).not.toContain('preflight');
    expect(journaled(switchPlan({}, facts).forward)).not.toContain('capability-review');
    // The snapshot brings the state the target left: nothing to finalize ahead either.
    expect(journaled(switchPlan({}, facts).forward)).not.toContain('finalize-ahead');
    expect(journaled(switchPlan({}, { ...facts, restore: false }).forward)).toContain('finalize-ahead');
    expect(journaled(switchPlan({}, { ...facts, restore: false, ahead: false }).forward)).not.toContain(
      'finalize-ahead',
    );
    expect(journaled(switchPlan({}, facts).forward)).toContain('restore-state');
  });

  it('finalize ahead comes before the rehearsal (which starts on its finalized copy) and the review (its verdict)', () => {
    const names = journaled(switchPlan({}, { ...openclaw, preflight: true, restore: false }).forward);
    expect(names.indexOf('finalize-ahead')).toBeGreaterThan(-1);
    expect(names.indexOf('finalize-ahead')).toBe(names.indexOf('preflight') - 1);
    expect(names.indexOf('capability-review')).toBe(names.indexOf('preflight') + 1);
  });

  it('without a supervisor the flip is the switch: no prepare, no stop, no way back after it', () => {
    const plan = switchPlan({}, { supervised: false, checkState: false, database: false, preflight: false });
    expect(plan.forward.map((step) => step.name)).toEqual(['verify-release', 'flip']);
    expect(plan.back).toEqual([]);
  });

  it('the walker (facts left out) keeps every step that may apply: each decides as it comes', () => {
    const names = switchPlan({}, { supervised: true }).forward.map((step) => step.name);
    expect(names).toEqual([
      ...SWITCH_STEPS.filter((name) => name !== 'install').slice(0, 6),
      'prepare',
      ...SWITCH_STEPS.slice(7),
    ]);
  });
});

describe('the walker runs the plan', () => {
  it("a switch that fails its verify records the plan's steps forward, then the plan's way back, in their order", async () => {
    const root = freshRoot();
    const fake = await supervise(root, { '1.2.0': 'unhealthy' });
    const tx = await switchThrough(root, fake, '1.2.0');
    expect(tx.status).toBe('rolled_back');
    const plan = switchPlan({}, { supervised: true });
    const recorded = tx.steps.map((step) => step.name);
    const wayBack = recorded.indexOf('rollback');
    expect(recorded.slice(0, wayBack)).toEqual(journaled(plan.forward).filter((name) => recorded.includes(name)));
    const back = recorded.slice(wayBack);
    expect(back).toEqual(journaled(plan.back).filter((name) => back.includes(name)));
    expect(back).toEqual(['rollback', 'restart-previous', 'verify-previous']);
  });
});
