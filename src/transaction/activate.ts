/**
 * The driver: one walker that runs a switch's plan (switch-plan.ts `switchPlan`) step by step, the plan `--dry-run`
 * prints: verify-release → check-state → database-preflight → preflight → capability-review → prepare → flip →
 * restore-state → restart-handoff → finalize → restart → verify → finish | the way back (way-back.ts, the plan's
 * `back`). Each step decides by its own rule whether it applies (the rule the dry run asks ahead) and records itself
 * (record.ts); the record's steps are the plan's steps' names. `activate` opens a transaction (`switch`, `rollback`,
 * `update`, or a scheduled one a runner carries out) and walks it from the top. Recovery decides where a killed run
 * stopped (an `Entry`, as data: recover.ts `planResume`) and re-enters the same walk there.
 */
import path from 'node:path';
import { ReleaseSwitcherError, isReleaseSwitcherError } from '../model/errors.js';
import { pathExists } from '../platform/fs.js';
import { publicTransaction, type Transaction, type TransactionKind } from '../model/state.js';
import type { Supervisor } from '../service/supervisors/types.js';
import { readLinkVersion } from '../store/links.js';
import type { JournalSession } from '../store/session.js';
import { configuredSupervisor } from './configured-supervisor.js';
import { type OptionFlags, optionsOf, transactionOptions } from './options.js';
import { knownGoodReturn, preflightWanted } from './preflight-wanted.js';
import {
  closeTransaction,
  enterTransaction,
  markBad,
  markPending,
  noteStep,
  openTransaction,
  setFields,
  transition,
} from './record.js';
import { planRuntime } from './runtime.js';
import { checkStateStep } from './state-return.js';
import {
  type DriverStep,
  type Failure,
  type Run,
  type SwitchStepName,
  completeFlip,
  finish,
  flipStep,
  openVerifyRelease,
  recordRecovery,
  verifyReleaseStep,
} from './steps.js';
import {
  endTheStop,
  inTheStop,
  prepareStep,
  restartTargetStep,
  restoreStateStep,
  verifyTargetStep,
  watchFromTheFlip,
} from './stop-steps.js';
import { type PlanStep, type PlanStepName, stretch, switchPlan } from './switch-plan.js';

export interface ActivateRequest extends OptionFlags {
  kind: TransactionKind;
  target: string;
  /** A transaction already journaled (status `scheduled`) that a runner now carries out, with its options. */
  scheduled?: Transaction;
  /** The supervisor to drive instead of the configured one's adapter (tests drive a fake). */
  supervisor?: Supervisor | null;
}

/**
 * Where the driver enters a transaction. A new one starts at `verify-release`; recovery re-enters a
 * flipped one at `restart` or `verify`, finishes one with nothing left to run (`finish`, supervisor
 * `none`), resumes the way back (`roll-back`) or undoes one that never flipped (`undo`). `note` is
 * recovery's account, recorded as its `recover` step.
 */
export type Entry =
  | { at: 'verify-release' }
  | { at: 'restart' | 'verify'; note: string }
  | { at: 'finish'; reason: string; note: string }
  | { at: 'roll-back'; failure: Failure; note: string }
  | { at: 'undo'; reason: string; note: string };

export async function activate(session: JournalSession, request: ActivateRequest): Promise<Transaction> {
  const tx = await begin(session, request);
  if (tx.status === 'up_to_date') return tx;
  const supervisor =
    request.supervisor !== undefined
      ? request.supervisor
      : await configuredSupervisor(session.config, session.runtime.env, session.runtime.signal);
  return drive({ session, tx, supervisor }, { at: 'verify-release' });
}

/** The state machine, from `entry` to a terminal status: the plan walked from there. */
export async function drive(run: Run, entry: Entry): Promise<Transaction> {
  try {
    return await walkFrom(run, entry);
  } finally {
    await endAhead(run);
  }
}

/**
 * A finalize done ahead leaves a copy in the state folder (finalize-ahead-step.ts): removed once the transaction has
 * ended, whichever way (the checkpoint, not the copy, is the way back). Its record is looked for first, so a switch
 * without one loads nothing of it.
 */
async function endAhead(run: Run): Promise<void> {
  const record = path.join(run.session.layout.preflight, `ahead-${run.tx.id}.json`);
  if (!(await pathExists(record))) return;
  // lazy: only after a finalize ahead
  const { discardAhead } = await import('./finalize-ahead-record.js');
  await discardAhead(run.session, run.tx.id).catch(() => undefined);
}

async function walkFrom(run: Run, entry: Entry): Promise<Transaction> {
  const { tx, supervisor } = run;
  // Facts left out: each step decides as it comes, by the rule the dry run applies ahead (switch-plan.ts StepFacts).
  const plan = switchPlan(optionsOf(tx), { supervised: supervisor !== null }).forward;
  if (entry.at === 'verify-release') {
    await upToTheFlip(run, stretch(plan, 'verify-release', 'flip'));
  } else {
    recordRecovery(tx, entry.note);
    run.resumed = true;
  }
  if (entry.at === 'undo') return (await waysBack()).undo(run, entry.reason);
  if (entry.at === 'roll-back') return (await waysBack()).rollBack(run, supervised(supervisor), entry.failure);
  run.markedPending = markPending(run.session.journal.state.releases[tx.to!]) || run.markedPending;
  if (entry.at === 'finish') {
    await completeFlip(run);
    return finish(run, 'switched', entry.reason);
  }
  if (!supervisor) {
    noteStep(tx, 'restart', 'skipped', 'supervisor none: restarting the service is the operator’s job');
    return finish(run, 'switched');
  }
  await walk(run, afterTheFlip(plan, entry.at));
  if (run.refused) return (await waysBack()).undoRefused(run, run.refused);
  if (!run.failure) return finish(run, 'verified');
  // A move of the service alone (the same release on another Node) failed on that Node, not the release: it stays good.
  if (tx.from !== tx.to) markBad(run.session.journal, tx.to!, `${run.failure.reason}: ${run.failure.detail}`);
  return (await waysBack()).rollBack(run, supervisor, run.failure);
}

/**
 * The plan's steps after the flip, from where the walk enters: all of them after the flip in this process; a recovery
 * re-entering before the stop runs first the steps it must do again (`again`: prepare), one entering at verify, verify.
 */
function afterTheFlip(plan: PlanStep[], at: Entry['at']): PlanStep[] {
  const after = plan.slice(plan.findIndex((step) => step.name === 'flip') + 1);
  if (at === 'verify-release') return after;
  if (at === 'verify') return stretch(plan, 'verify', 'verify');
  return [...plan.filter((step) => step.again), ...after];
}

/** Run `steps` in order until one fails or is refused (on the run); the steps of the stop as the stop's (stop-steps.ts). */
async function walk(run: Run, steps: PlanStep[]): Promise<void> {
  for (const { name } of steps) {
    const step = stepOf(name);
    if (STOP.has(name)) await inTheStop(run, step);
    else await step(run);
    if (run.failure || run.refused) break;
  }
  // A stop that ended in a failure it put on the run (finalize's) ends its restore and lets its hold go all the same.
  if (run.stop) await endTheStop(run);
}

/** The steps that stop or start the service: what they throw is the restart's failure, or a refusal (stop-steps.ts). */
const STOP: ReadonlySet<PlanStepName> = new Set(['restart-handoff', 'finalize', 'restart']);

/** Open the transaction (or take over the scheduled one); `up_to_date` when the target already runs. */
async function begin(session: JournalSession, request: ActivateRequest): Promise<Transaction> {
  const { layout, journal, config } = session;
  const current = await readLinkVersion(layout, 'current');
  const previous = await readLinkVersion(layout, 'previous');
  // The options are journaled with the transaction as it opens (a runner's were, when it was scheduled).
  const tx =
    request.scheduled ??
    openTransaction({
      kind: request.kind,
      status: 'switching',
      from: current,
      to: request.target,
      ...transactionOptions(request),
    });
  if (request.scheduled) transition(tx, 'switching');
  setFields(tx, { from: current, before: { current, previous } });
  const installed = Boolean(journal.state.releases[request.target]);
  // The release running on another Node than the service's is a move of the service (runtime.ts), even to what runs.
  const runtime = installed ? await planRuntime(session, tx, tx.node) : undefined;
  if (runtime) setFields(tx, { runtime });
  if (current === request.target && !runtime) {
    closeTransaction(journal, tx, { status: 'up_to_date' });
    if (request.scheduled) await journal.commit();
    return tx;
  }
  if (!installed) {
    throw new ReleaseSwitcherError('RELEASE_NOT_FOUND', `Release ${request.target} is not installed.`, {
      hint: `Install it first (release-switcher install ${config.package}@${request.target}); see release-switcher list.`,
    });
  }
  enterTransaction(journal, tx);
  openVerifyRelease(tx); // journaled with the transaction: its first step, running
  await journal.commit('activate:begin');
  return tx;
}

/**
 * What each step of the plan runs, by name, each `(run) => Promise<void>`; each decides by its own rule whether it
 * applies, the rule the dry run asks (plan.ts). `install` is not the walker's: the verb, or the runner, stages the
 * release before the transaction; the way back is way-back.ts's.
 */
type Walked = Exclude<SwitchStepName, 'install'> | 'prepare';
const STEPS: Record<Walked, DriverStep> = {
  'verify-release': verifyReleaseStep,
  'check-state': (run) =>
    checkStateStep(run.session, run.tx, {
      leaving: run.tx.from,
      target: run.tx.to!,
      supervised: !!run.supervisor,
      ...(run.tx.checkpoint && { checkpoint: run.tx.checkpoint }),
    }),
  'database-preflight': async (run) =>
    // lazy: the database preflight (the state's walk, the release's own CLI) only where the preset publishes one
    (await import('./database-preflight-step.js')).databasePreflightStep(run.session, run.tx, run.tx.to!),
  preflight: rehearse,
  // lazy: a copy of the state and the target's finalize on it, only where the preset's finalize can run ahead
  'finalize-ahead': async (run) => (await import('./finalize-ahead-step.js')).finalizeAheadStep(run),
  // lazy: the capability review (a private copy of the state, OpenClaw's finalize) only where plugins need it
  'capability-review': async (run) => (await import('./capability-review-step.js')).capabilityReviewStep(run),
  prepare: prepareStep,
  // After a rehearsal, its step's commit recorded the checks; else the flip's own write records them (one commit, not two).
  flip: async (run) => {
    await flipStep(run, rehearsed(run.tx) ? undefined : 'activate:verified-release');
    await watchFromTheFlip(run);
  },
  'restore-state': restoreStateStep,
  // lazy: the handoff and finalize code (and npm's bin links) only for a preset that has them
  'restart-handoff': async (run) => (await import('./finalize-step.js')).handOverStep(run, supervised(run.supervisor)),
  // A preset's post-core step (openclaw `update finalize`): the service stopped, the state checkpointed first.
  // lazy: as restart-handoff's
  finalize: async (run) => (await import('./finalize-step.js')).finalizeStep(run, supervised(run.supervisor)),
  restart: restartTargetStep,
  verify: verifyTargetStep,
};

function stepOf(name: PlanStepName): DriverStep {
  const step = (STEPS as Partial<Record<PlanStepName, DriverStep>>)[name];
  if (step) return step;
  throw new ReleaseSwitcherError('INTERNAL', `The walker has no step ${name}.`, {
    hint: 'This is a bug in release-switcher; please report it with release-switcher status --json.',
  });
}

/** The plan up to the flip. A failure here changed nothing: undo, close `failed`, throw. */
async function upToTheFlip(run: Run, steps: PlanStep[]): Promise<void> {
  const { tx } = run;
  try {
    for (const { name } of steps) await stepOf(name)(run);
  } catch (error) {
    // When even the undo fails (a full disk), the transaction stays journaled and recovery undoes it; the first error is the one to see.
    await waysBack()
      .then(({ undo }) => undo(run, isReleaseSwitcherError(error) ? error.code.toLowerCase() : 'error'))
      .catch(() => undefined);
    // The envelope shows the transaction as docs/exit-codes-and-json.md has it, as on success: without the journal's
    // bookkeeping.
    if (isReleaseSwitcherError(error)) error.result = publicTransaction(tx);
    throw error;
  }
}

/** preflight: the rehearsal, when the config asks for one, the caller did not decline it, and the target is no known-good return. */
async function rehearse(run: Run): Promise<void> {
  const { session, tx } = run;
  if (tx.preflight === false || !preflightWanted(session.config)) return;
  const known = knownGoodReturn(session, tx);
  if (known) return noteStep(tx, 'preflight', 'skipped', known);
  await session.journal.commit('activate:verified-release');
  // lazy: the rehearsal (a candidate process, its ports, a private copy of the state) only when one runs
  await (await import('./preflight-step.js')).preflightStep(session, tx, tx.to!);
}

const rehearsed = (tx: Transaction) => tx.steps.at(-1)?.name === 'preflight' && tx.steps.at(-1)?.status === 'ok';

/** roll-back.ts and way-back.ts (and the flip back they drive): loaded when a transaction goes back or is undone, not by one that goes through. */
function waysBack(): Promise<typeof import('./roll-back.js')> {
  return import('./roll-back.js'); // lazy: a transaction that goes through never goes back
}

function supervised(supervisor: Supervisor | null): Supervisor {
  if (supervisor) return supervisor;
  throw new ReleaseSwitcherError('INTERNAL', 'The way back was entered without a supervisor.', {
    hint: 'This is a bug in release-switcher; please report it with release-switcher status --json.',
  });
}
