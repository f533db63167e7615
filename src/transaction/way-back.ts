/**
 * The way back after the flip: the target failed and `tx.from` comes back, walked step by step in the order of the
 * plan's `back` (switch-plan.ts): state-return (the rule for the state: keep it, put a checkpoint back, or refuse) →
 * database-preflight-previous → rollback (the flip back) → restore-state → restart-previous → verify-previous. Each
 * step decides by its own rule whether it applies; one that ends the way back returns the closed transaction (ends
 * `rollback_failed`), the last ends it `rolled_back`. Recovery re-enters it from the top (activate.ts `drive`).
 */
import { crashPoint } from '../platform/crashpoint.js';
import { type Supervisor, controlTool } from '../service/supervisors/types.js';
import { flipBack } from './flip-back.js';
import { markGood, noteStep, runStep, setFields, transition } from './record.js';
import { type PendingRestore, beginRestore, endRestore, planStateReturn } from './state-return.js';
import { pointRuntime, recordRanOn } from './runtime.js';
import { type Failure, type Run, finish, restartStep, verifyStep } from './steps.js';
import { optionsOf } from './options.js';
import { type PlanStepName, switchPlan } from './switch-plan.js';
import type { Transaction } from '../model/state.js';
import { isReleaseSwitcherError } from '../model/errors.js';
import type { ServiceState } from '../service/supervisors/types.js';
import { isRefusal } from '../service/refusal.js';
import { checkpointDue } from '../snapshot/checkpoint-due.js';
import { bootCheckHint } from '../store/boot-check-record.js';

/** What the way back's steps hand each other. */
interface Back {
  run: Run;
  supervisor: Supervisor;
  failure: Failure;
  /** The release that comes back. */
  previous: string;
  /** The checkpoint that goes back before it starts (state-return's decision), if one does. */
  checkpoint?: string | undefined;
  /** The state-return's decision when it keeps or puts back nothing: said on the record before the flip back. */
  note?: string | undefined;
  restoring?: PendingRestore | undefined;
  baseline?: ServiceState;
}

/** A step of the way back: the closed transaction when the way back ends there, else undefined (go on). */
type BackStep = (back: Back) => Promise<Transaction | undefined>;

/** Bring `tx.from` back after `tx.to` failed. Ends `rolled_back` or `rollback_failed`. */
export async function rollBack(run: Run, supervisor: Supervisor, failure: Failure): Promise<Transaction> {
  const { tx, session } = run;
  transition(tx, 'rolling_back', { reason: failure.reason });
  await session.journal.commit('rollback:begin');
  const previous = tx.from;
  if (previous === null)
    return failRollback(run, supervisor, {
      why: `${tx.to} failed (${failure.detail}) and there is no earlier release to go back to`,
    });
  const back: Back = { run, supervisor, failure, previous };
  for (const { name } of switchPlan(optionsOf(tx), { supervised: true }).back) {
    const ended = await BACK[name as keyof typeof BACK]?.(back);
    if (ended) return ended;
  }
  return finish(run, 'rolled_back');
}

const cancelled = (error: unknown) => isReleaseSwitcherError(error) && error.code === 'CANCELLED';

/**
 * state-return: decided before the flip back: when the state cannot be put back, the failed release stays current
 * rather than starting one that would refuse the migrated state and leave the service down.
 */
const stateReturn: BackStep = async (back) => {
  const { run, supervisor, previous } = back;
  const { session, tx } = run;
  const plan = await planStateReturn({
    layout: session.layout,
    config: session.config,
    state: session.journal.state,
    leaving: tx.to!,
    target: previous,
  });
  // No checkpoint of its own where one was owed (the boot-check did not run): said on the record, whatever the way back.
  const lost = await lostCheckpoint(run);
  if (plan.action === 'refuse')
    return failRollback(run, supervisor, {
      why: `not going back to ${previous}: ${plan.detail}${lost ? ` (${lost})` : ''}`,
      hint: lost
        ? `${plan.hint} ${tx.to} stays current, not stopped by the way back. ${bootCheckHint(session.config)}`
        : plan.hint,
    });
  back.checkpoint = plan.action === 'restore' ? plan.snapshot : undefined;
  if (plan.action === 'keep') back.note = plan.detail;
  if (plan.action === 'none' && lost)
    back.note = `nothing to put back: ${lost}; ${previous} starts on the state as ${tx.to} left it, with whatever ${tx.to} changed in it (a migration included)`;
  return undefined;
};

/**
 * database-preflight-previous: the previous release's own judgement of the state it would start with (the
 * checkpoint's, when one goes back), as every activation has it: a release that cannot read that state is not started
 * on it; the failed one stays.
 */
const judgePrevious: BackStep = async (back) => {
  const refused = await judgeWayBack(back.run, back.previous, back.checkpoint);
  return refused ? failRollback(back.run, back.supervisor, refused) : undefined;
};

/** rollback: the flip back (the links, and the Node it ran on, with it). */
const flipBackStep: BackStep = async (back) => {
  const { run, supervisor, previous, failure } = back;
  const { session, tx } = run;
  // A switch's own request (a rollback with a restore) is not for the way back.
  setFields(tx, { restore: back.checkpoint ? { snapshot: back.checkpoint, version: previous } : undefined });
  if (back.note) noteStep(tx, 'restore-state', 'skipped', back.note);
  try {
    await runStep({ journal: session.journal, tx }, 'rollback', async (step) => {
      const moved = await pointRuntime(session, tx, 'from'); // the Node it ran on, with it
      await flipBack(session.layout, { current: previous, previous: tx.before?.previous ?? null });
      step.note({ detail: `${failure.detail}; current -> releases/${previous}${moved}` });
    });
  } catch (error) {
    if (cancelled(error)) throw error; // left rolling back, for recovery to resume
    return failRollback(run, supervisor, { why: `could not flip back to ${previous}: ${(error as Error).message}` });
  }
  await session.journal.commit('rollback:flipped');
  return undefined;
};

/** restore-state: the checkpoint that goes back, begun (the boot-check puts it back at the start), if one does. */
const restoreStep: BackStep = async (back) => {
  back.restoring = await beginRestore(back.run.session, back.run.tx);
  return undefined;
};

/** restart-previous: the release brought back must run (a restore the boot-check began and was cut: once more). */
const restartPreviousStep: BackStep = async (back) => {
  const { run, supervisor, previous, restoring } = back;
  const { session, tx } = run;
  try {
    back.baseline = await restartStep(run, supervisor, 'restart-previous');
  } catch (error) {
    await endRestore(session, tx, restoring);
    if (cancelled(error)) throw error; // left rolling back, for recovery to resume
    return failRollback(run, supervisor, {
      why: `restarting ${previous} failed: ${(error as Error).message}`,
      // Refused by sudo or polkit: what to allow comes first, the service may be down all the same.
      ...(isRefusal(error) && { hint: `${error.hint} ${wayBackHint(run, supervisor)}` }),
    });
  }
  try {
    const again = () => restartStep(run, supervisor, 'restart-previous');
    back.baseline = (await endRestore(session, tx, restoring, again)) ?? back.baseline;
  } catch (error) {
    return failRollback(run, supervisor, { why: `restarting ${previous} failed: ${(error as Error).message}` });
  }
  crashPoint('rollback:restarted');
  return undefined;
};

/** verify-previous: the release brought back healthy; it is good again (unless it was judged bad). */
const verifyPreviousStep: BackStep = async (back) => {
  const { run, supervisor, previous } = back;
  const { session, tx } = run;
  const result = await verifyStep(run, supervisor, {
    name: 'verify-previous',
    version: previous,
    baseline: back.baseline ?? null,
  });
  if (!result.ok) return failRollback(run, supervisor, { why: `${previous} did not come back: ${result.detail}` });
  markGood(session.journal.state.releases[previous], { overrideBad: false });
  recordRanOn(session, tx, previous, 'from');
  return undefined;
};

/** The way back's steps by name, walked in the plan's `back` order. */
const BACK: Partial<Record<PlanStepName, BackStep>> = {
  'state-return': stateReturn,
  'database-preflight-previous': judgePrevious,
  rollback: flipBackStep,
  'restore-state': restoreStep,
  'restart-previous': restartPreviousStep,
  'verify-previous': verifyPreviousStep,
};

/**
 * Words for a transaction that was owed a state checkpoint and has none (snapshot/checkpoint-due.ts), or undefined:
 * going back then cannot promise the state as the release left it.
 */
async function lostCheckpoint(run: Run): Promise<string | undefined> {
  const { session, tx } = run;
  if (!checkpointDue(session.config, tx) || tx.snapshot) return undefined;
  // lazy: the snapshot store only for a transaction owed a checkpoint
  if (await (await import('../snapshot/snapshot.js')).readSnapshot(session.layout, tx.id)) return undefined;
  return `no state checkpoint was taken before ${tx.to} first started: the boot-check took none`;
}

/**
 * `database-preflight-previous`: what refuses the way back (the step failed with the verdicts; nothing flipped: the
 * failed release stays current and whatever it serves goes on), or undefined. A check that could not run at all
 * refuses too: going back blind is how an older release meets state it cannot read.
 */
async function judgeWayBack(
  run: Run,
  previous: string,
  checkpoint: string | undefined,
): Promise<FailRollbackOptions | undefined> {
  const { session, tx } = run;
  // lazy: the database preflight (the state's walk, the release's own CLI) only on a way back
  const { judgeStep } = await import('./database-preflight-step.js');
  let refused: { message: string; hint: string } | undefined;
  try {
    refused = await judgeStep(session, tx, {
      name: 'database-preflight-previous',
      target: previous,
      checkpoint,
      wayBack: true,
    });
  } catch (error) {
    if (cancelled(error)) throw error; // left rolling back, for recovery to resume
    refused = { message: `its database preflight could not run (${(error as Error).message})`, hint: '' };
  }
  if (!refused) return undefined;
  return {
    why: `not going back to ${previous}: ${refused.message}`,
    hint: [
      `${tx.to} stays current and was not stopped by the way back; ${previous} was not started.`,
      refused.hint,
      `Look at ${tx.to} (release-switcher status), then switch to a release that can read this state.`,
    ]
      .filter(Boolean)
      .join(' '),
  };
}

export interface FailRollbackOptions {
  /** What stopped the way back: the failed step's detail. */
  why: string;
  /** What the operator should do. @default look at the service, then switch to a known-good release by hand */
  hint?: string | undefined;
}

async function failRollback(run: Run, supervisor: Supervisor, options: FailRollbackOptions): Promise<Transaction> {
  noteStep(run.tx, 'rollback', 'failed', options.why);
  setFields(run.tx, { hint: options.hint ?? wayBackHint(run, supervisor) });
  return finish(run, 'rollback_failed');
}

function wayBackHint(run: Run, supervisor: Supervisor): string {
  const root = run.session.layout.root;
  return `The service may be down. Look at it (${controlTool(supervisor.name)} status ${supervisor.unit}), then bring a known-good release back by hand: release-switcher --root ${root} list, then release-switcher --root ${root} switch VERSION.`;
}
