/**
 * What a switch, rollback or update would do, as data, decided where the driver decides it: the target,
 * where it comes from, and what happens to the service's state (planStateReturn: none, keep,
 * restore or refuse). `--dry-run` prints it; the driver's check-state step applies the same rule.
 */
import { ReleaseSwitcherError } from '../model/errors.js';
import type { State, TransactionKind } from '../model/state.js';
import type { SupervisorName } from '../store/config.js';
import { readLinkVersion } from '../store/links.js';
import type { Session } from '../store/session.js';
import { type DatabaseVerdict, refuses } from '../rehearsal/database-preflight.js';
import { type StatePlan, planStateReturn } from './state-return.js';
import { preflightWanted } from './preflight-wanted.js';
import { movesTo, servingNode } from './runtime.js';
import type { StepChoice, SwitchStepName } from './steps.js';
import { type CallerOptions, transactionOptions } from './options.js';
import { type SwitchSteps, journaled, stretch, switchPlan } from './switch-plan.js';

export interface SwitchPlan {
  kind: TransactionKind;
  from: string | null;
  to: string;
  /** `switch`: the steps below run; `up_to_date`: nothing to do; `refuse`: check-state stops it (STATE_SNAPSHOT_MISSING). */
  action: 'switch' | 'up_to_date' | 'refuse';
  /** What happens to the service's state on the way. */
  state: StatePlan;
  supervisor: SupervisorName;
  /** The steps the driver would record, in order (steps.ts SWITCH_STEPS, those that apply): `plan.forward`'s names. */
  steps: SwitchStepName[];
  /**
   * The plan itself (switch-plan.ts): the steps forward, each with what undoes it and the stop window's parts it times,
   * and the way back after the flip. Up to the refusing step when the switch would be refused. Present for a supervised
   * service (a stop window and a way back to show); without one the flip is the switch and `steps` says all of it.
   */
  plan?: SwitchSteps;
  /** The target's database preflight of the live state (openclaw preset), as the `database-preflight` step would run it. */
  database?: { verdicts?: DatabaseVerdict[]; note?: string };
  /** The service moves to another Node with the switch (transaction/runtime.ts): the one it runs now, and the target's. */
  runtime?: { from: string; to: string };
  /**
   * Present when the switch is owed a state checkpoint and the boot-check did not run at the service's present start
   * (checkpoint-check.ts): unless it runs at the restart, the switch fails STATE_CHECKPOINT_MISSING. `note` says why.
   */
  checkpoint?: { note: string };
}

/** What to plan, and the transaction's options as the caller states them (options.ts), those a plan reads. */
export interface PlanRequest extends Pick<CallerOptions, 'preflight' | 'checkpoint' | 'node'> {
  kind: TransactionKind;
  /** The version to switch to. */
  target: string;
  /** `update`: a target not installed yet is planned with an `install` step first (else RELEASE_NOT_FOUND). @default false */
  install?: boolean;
}

export async function planSwitch(session: Session & { state: State }, request: PlanRequest): Promise<SwitchPlan> {
  const { layout, config, state } = session;
  const { kind, target } = request;
  const from = await readLinkVersion(layout, 'current');
  const moving = await movesTo(session, state, target, request.node);
  const base = {
    kind,
    from,
    to: target,
    supervisor: config.supervisor,
    ...(moving && { runtime: { from: servingNode(session), to: moving } }),
  };
  if (from === target && !moving) return { ...base, action: 'up_to_date', state: { action: 'none' }, steps: [] };
  const install = !state.releases[target];
  if (install && !request.install) {
    throw new ReleaseSwitcherError('RELEASE_NOT_FOUND', `Release ${target} is not installed.`, {
      hint: `Install it first (release-switcher install ${config.package}@${target}); see release-switcher list.`,
    });
  }
  const statePlan =
    from === null
      ? ({ action: 'none' } as const)
      : await planStateReturn({ layout, config, state, leaving: from, target, requested: request.checkpoint });
  // lazy: the database preflight (the state's walk, the snapshot store), which a plain switch never needs
  const { planDatabase } = await import('./database-preflight-step.js');
  const { steps: databaseStep, database } = await planDatabase(session, {
    target,
    installed: !install,
    checkpoint: statePlan.action === 'restore' ? statePlan.snapshot : undefined,
  });
  // Each step's own rule, as the driver applies it when the step comes (activate.ts STEPS).
  const choice: StepChoice = {
    install,
    checkState: statePlan.action !== 'none',
    database: databaseStep.length > 0,
    preflight: preflightWanted(config), // --no-preflight: the option, switchPlan's own
    restore: statePlan.action === 'restore',
    supervised: config.supervisor !== 'none',
    ...(config.supervisor === 'none'
      ? { handoff: false, finalize: false, review: false, ahead: false }
      : // lazy: switch and rollback must not pull the finalize and handoff code into every start
        (await import('./finalize-choice.js')).finalizeSteps(config)),
  };
  const plan = switchPlan(transactionOptions(request), choice);
  const shown = choice.supervised;
  // Refused: the plan up to the step that refuses, and no way back (nothing would have flipped).
  const upTo = (last: SwitchStepName) => {
    const forward = stretch(plan.forward, plan.forward[0]!.name, last);
    return { steps: journaled(forward) as SwitchStepName[], ...(shown && { plan: { forward, back: [] } }) };
  };
  if (database?.verdicts?.some(refuses))
    return { ...base, action: 'refuse', state: statePlan, database, ...upTo('database-preflight') };
  if (statePlan.action === 'refuse') return { ...base, action: 'refuse', state: statePlan, ...upTo('check-state') };
  // lazy: the boot-check's record and the unit's start, only for a dry run that gets this far
  const checkpoint = await (await import('./checkpoint-check.js')).checkpointAtRisk(session, {
    from,
    to: target,
    restore: statePlan.action === 'restore' ? { snapshot: statePlan.snapshot, version: target } : undefined,
  });
  return {
    ...base,
    action: 'switch',
    state: statePlan,
    ...(database && { database }),
    ...(checkpoint && { checkpoint }),
    steps: journaled(plan.forward) as SwitchStepName[],
    ...(shown && { plan }),
  };
}
