/**
 * A switch as data: every step of an update, switch or rollback, in the order it runs, from one pure function. The
 * driver walks it (activate.ts), `--dry-run` prints it (plan.ts), recovery re-enters it at a step of it (recover.ts
 * `planResume` names the step), and the record's steps are its steps' names (those that journal). Each step says what
 * undoes it (the step of the way back that does, or `undo`: before the flip nothing serves the target, the links stay
 * or go back and the transaction closes `failed`), and which parts of the stop window it times (window.ts): from the
 * first of them the service does not serve. The way back is the plan's too (`back`, walked by way-back.ts in this order).
 */
import type { StepName } from '../model/state.js';
import type { TransactionOptions } from './options.js';
import type { StepChoice } from './steps.js';

/**
 * A step of the plan that records nothing of its own: `prepare`, the work before the stop while the old release
 * serves; `state-return`, the way back's rule for the state (keep it, put a checkpoint back, or refuse to go back).
 */
export type PlanOnlyStep = 'prepare' | 'state-return';
export type PlanStepName = StepName | PlanOnlyStep;

/** The parts of the stop window (window.ts `WindowRecord`), in order. */
export type WindowPart = 'handoff' | 'stop' | 'consume' | 'checkpoint' | 'finalize' | 'start' | 'start-to-healthy';

export interface PlanStep {
  name: PlanStepName;
  /** What undoes it when a later step fails: a step of `back`, or `undo` (before the flip). Absent: nothing to undo. */
  undo?: string;
  /** The stop window's parts it times, in order: the service does not serve from the first of them. */
  window?: WindowPart[];
  /** false: it records no step (its work is recorded by the steps that use it). @default true */
  journal?: false;
  /** Run again first by a recovery that re-enters after it and before the stop: what it made lived in the killed run. */
  again?: true;
  /** Decided as it comes, not ahead: when it runs. */
  when?: string;
}

export interface SwitchSteps {
  /** The steps forward, in order: up to the flip (undone by `undo`), the flip, the stop window, the verification. */
  forward: PlanStep[];
  /** The way back after the flip, in order (way-back.ts): the target failed and `from` comes back. */
  back: PlanStep[];
}

/**
 * Which steps apply. A fact known ahead (the dry run's, plan.ts) takes a step out or leaves it in; a fact left out
 * (the driver's) leaves the step in, and the step decides by the same rule when it comes.
 */
export type StepFacts = Partial<StepChoice>;

/** Every step of a switch with these options and facts, in order, each with its undo and its part of the window. */
export function switchPlan(options: TransactionOptions, facts: StepFacts): SwitchSteps {
  const may = (fact: boolean | undefined) => fact !== false;
  const supervised = may(facts.supervised);
  const before = 'undo';
  const forward: Array<PlanStep | false> = [
    facts.install === true && { name: 'install', when: 'the release is not installed yet (update)' },
    { name: 'verify-release', undo: before },
    may(facts.checkState) && { name: 'check-state', undo: before },
    may(facts.database) && { name: 'database-preflight', undo: before },
    // Before the rehearsal, which then starts the candidate on the finalized copy (the state its real start meets),
    // and before the review, which reads its verdict (one finalize on a copy, not two).
    supervised &&
      may(facts.finalize) &&
      may(facts.ahead) &&
      facts.restore !== true && { name: 'finalize-ahead', undo: before },
    options.preflight !== false && may(facts.preflight) && { name: 'preflight', undo: before },
    // Only where a plugin can need consent; a snapshot put back brings the plugins the target had: never then.
    supervised && may(facts.review) && facts.restore !== true && { name: 'capability-review', undo: before },
    // Before the flip, not after: a service may stop serving as soon as `current` changes under it.
    supervised && { name: 'prepare', undo: before, journal: false, again: true },
    { name: 'flip', undo: 'rollback' },
    supervised && may(facts.restore) && { name: 'restore-state', undo: 'restore-state', when: 'a snapshot goes back' },
    supervised &&
      may(facts.handoff) && {
        name: 'restart-handoff',
        undo: 'restart-previous',
        window: ['handoff', 'stop', 'consume'],
      },
    supervised &&
      may(facts.finalize) && { name: 'finalize', undo: 'restore-state', window: ['stop', 'checkpoint', 'finalize'] },
    supervised && { name: 'restart', undo: 'restart-previous', window: ['start'] },
    supervised && { name: 'verify', undo: 'rollback', window: ['start-to-healthy'] },
  ];
  // Without a supervisor nothing was started: there is no way back after the flip, the flip is the switch.
  const back: Array<PlanStep | false> = !supervised
    ? []
    : [
        { name: 'state-return', journal: false },
        may(facts.database) && {
          name: 'database-preflight-previous',
          when: 'the preset judges the state it would start on',
        },
        { name: 'rollback' },
        { name: 'restore-state', when: 'the checkpoint taken before the target first started goes back' },
        { name: 'restart-previous' },
        { name: 'verify-previous' },
      ];
  return { forward: forward.filter(isStep), back: back.filter(isStep) };
}

const isStep = (step: PlanStep | false): step is PlanStep => step !== false;

/** The names the record shows for `steps`, in order (the plan-only ones left out). */
export function journaled(steps: readonly PlanStep[]): StepName[] {
  return steps.filter((step) => step.journal !== false).map((step) => step.name as StepName);
}

/** The steps of `steps` from `first` to `last` (both included), in order. */
export function stretch(steps: readonly PlanStep[], first: PlanStepName, last: PlanStepName): PlanStep[] {
  const names = steps.map((step) => step.name);
  return steps.slice(names.indexOf(first), names.lastIndexOf(last) + 1);
}
