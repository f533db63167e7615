/**
 * The driver: one transaction, top to bottom, as the state machine it is —
 *   verify-release → check-state → preflight → flip → restart → verify → finish | roll back.
 * `activate` opens a transaction (`switch`, `rollback`, `update`, or a scheduled one a runner carries
 * out) and drives it from the top. Recovery decides where a killed run stopped (an `Entry`, as data:
 * recover.ts `planResume`) and re-enters the same `drive`. The statuses and release states are
 * machine.ts's; each step is a small function in steps.ts, roll-back.ts, state-return.ts or
 * preflight-step.ts.
 */
import { ReleaseSwitcherError, isReleaseSwitcherError } from '../model/errors.js';
import { publicTransaction, type Transaction, type TransactionKind } from '../model/state.js';
import type { ServiceState, Supervisor } from '../service/supervisors/types.js';
import { readLinkVersion } from '../store/links.js';
import { closeTransaction, markGood, markPending, openTransaction, setReleaseState, transition } from './machine.js';
import type { JournalSession } from '../store/session.js';
import { configuredSupervisor } from './configured-supervisor.js';
import { stageStateCheckpoint } from './stage-checkpoint.js';
import { knownGoodReturn, preflightWanted } from './preflight-wanted.js';
import { beginRestore, checkStateStep, endRestore, noteSnapshot } from './state-return.js';
import {
  type Failure,
  type Run,
  completeFlip,
  finish,
  flipStep,
  openVerifyRelease,
  recordRecovery,
  restartStep,
  verifyReleaseStep,
  verifyStep,
} from './steps.js';

export interface ActivateRequest {
  kind: TransactionKind;
  target: string;
  /** A transaction already journaled (status `scheduled`) that a runner now carries out. */
  scheduled?: Transaction;
  /** The supervisor to drive instead of the configured one's adapter (tests drive a fake). */
  supervisor?: Supervisor | null;
  /** false: skip the rehearsal (`--no-preflight`). @default true */
  preflight?: boolean;
}

/**
 * Where the driver enters a transaction. A new one starts at `verify-release`; recovery re-enters a
 * flipped one at `restart` or `verify`, finishes one with nothing left to run (`finish`, supervisor
 * `none`), resumes the way back (`roll-back`) or undoes one that never flipped (`undo`). `note` is
 * recovery's account, recorded as its `recover` step.
 */
export type Entry =
  | { at: 'verify-release'; preflight: boolean }
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
      : await configuredSupervisor(session.config, session.runtime.env);
  return drive({ session, tx, supervisor }, { at: 'verify-release', preflight: request.preflight !== false });
}

/** The state machine, from `entry` to a terminal status. */
export async function drive(run: Run, entry: Entry): Promise<Transaction> {
  const { tx, supervisor } = run;
  if (entry.at === 'verify-release') await upToTheFlip(run, entry.preflight);
  else recordRecovery(tx, entry.note);
  if (entry.at === 'undo') return (await waysBack()).undo(run, entry.reason);
  if (entry.at === 'roll-back') return (await waysBack()).rollBack(run, supervised(supervisor), entry.failure);
  markPending(run.session.journal.state.releases[tx.to!]);
  if (entry.at === 'finish') {
    await completeFlip(run);
    return finish(run, 'switched', entry.reason);
  }
  if (!supervisor) {
    tx.steps.push({
      name: 'restart',
      status: 'skipped',
      ms: 0,
      detail: 'supervisor none: restarting the service is the operator’s job',
    });
    return finish(run, 'switched');
  }
  let failure: Failure | undefined;
  let baseline: ServiceState | null = null;
  if (entry.at !== 'verify') {
    await stageStateCheckpoint(run.session, tx); // the bulk copy while the old release serves
    ({ failure, baseline } = await restart(run, supervisor));
  }
  await noteSnapshot(run.session, tx);
  failure ??= await verify(run, supervisor, baseline);
  if (!failure) return finish(run, 'verified');
  const record = run.session.journal.state.releases[tx.to!];
  if (record) setReleaseState(record, 'bad', `${failure.reason}: ${failure.detail}`);
  return (await waysBack()).rollBack(run, supervisor, failure);
}

/** Open the transaction (or take over the scheduled one); `up_to_date` when the target already runs. */
async function begin(session: JournalSession, request: ActivateRequest): Promise<Transaction> {
  const { layout, journal, config } = session;
  const current = await readLinkVersion(layout, 'current');
  const previous = await readLinkVersion(layout, 'previous');
  const tx =
    request.scheduled ??
    openTransaction({ kind: request.kind, status: 'switching', from: current, to: request.target });
  if (request.scheduled) transition(tx, 'switching');
  tx.from = current;
  tx.before = { current, previous };
  if (current === request.target) {
    closeTransaction(journal, tx, { status: 'up_to_date' });
    if (request.scheduled) await journal.commit();
    return tx;
  }
  if (!journal.state.releases[request.target]) {
    throw new ReleaseSwitcherError('RELEASE_NOT_FOUND', `Release ${request.target} is not installed.`, {
      hint: `Install it first (release-switcher install ${config.package}@${request.target}); see release-switcher list.`,
    });
  }
  journal.state.transaction = tx;
  openVerifyRelease(tx); // journaled with the transaction: its first step, running
  await journal.commit('activate:begin');
  return tx;
}

/** verify-release → check-state → preflight → flip. A failure here changed nothing: undo, close `failed`, throw. */
async function upToTheFlip(run: Run, preflight: boolean): Promise<void> {
  const { session, tx } = run;
  try {
    const first = tx.steps.at(-1);
    await verifyReleaseStep(run, first?.name === 'verify-release' ? first : undefined);
    await checkStateStep(session, tx, { leaving: tx.from, target: tx.to!, supervised: run.supervisor !== null });
    await (await import('./database-preflight-step.js')).databasePreflightStep(session, tx, tx.to!);
    const wanted = preflight && preflightWanted(session.config);
    const known = wanted ? knownGoodReturn(session, tx) : undefined;
    if (known) tx.steps.push({ name: 'preflight', status: 'skipped', ms: 0, detail: known });
    if (wanted && !known) {
      await session.journal.commit('activate:verified-release');
      await (await import('./preflight-step.js')).preflightStep(session, tx, tx.to!);
      await flipStep(run);
    } else {
      // Nothing runs between: the flip's own write records the check too (one commit, not two).
      await flipStep(run, 'activate:verified-release');
    }
  } catch (error) {
    // When even the undo fails (a full disk), the transaction stays journaled and recovery undoes it; the first error is the one to see.
    await waysBack()
      .then(({ undo }) => undo(run, isReleaseSwitcherError(error) ? error.code.toLowerCase() : 'error'))
      .catch(() => undefined);
    // The envelope shows the transaction as CONTRACT.md has it, like the success path: no internal bookkeeping.
    if (isReleaseSwitcherError(error)) error.result = publicTransaction(tx);
    throw error;
  }
}

/** restart, the state put back on the way when check-state asked for it. A failure is returned, not thrown. */
async function restart(
  run: Run,
  supervisor: Supervisor,
): Promise<{ failure?: Failure; baseline: ServiceState | null }> {
  transition(run.tx, 'restarting');
  const restoring = await beginRestore(run.session, run.tx);
  const again = () => restartStep(run, supervisor, 'restart');
  try {
    // A preset's post-core step (openclaw `update finalize`): the service stopped, the state checkpointed first.
    const finalized = await (await import('./finalize-step.js')).finalizeStep(run, supervisor);
    if (finalized) {
      await endRestore(run.session, run.tx, restoring);
      return { failure: finalized, baseline: null };
    }
    const baseline = await restartStep(run, supervisor, 'restart');
    return { baseline: (await endRestore(run.session, run.tx, restoring, again)) ?? baseline };
  } catch (error) {
    await endRestore(run.session, run.tx, restoring);
    return { failure: { reason: 'restart_failed', detail: (error as Error).message }, baseline: null };
  }
}

/** verify: the new process healthy, the right version, stable. Verified makes the release good. */
async function verify(run: Run, supervisor: Supervisor, baseline: ServiceState | null): Promise<Failure | undefined> {
  transition(run.tx, 'verifying');
  const result = await verifyStep(run, supervisor, { name: 'verify', version: run.tx.to!, baseline });
  if (!result.ok) return { reason: result.reason, detail: result.detail };
  markGood(run.session.journal.state.releases[run.tx.to!], { overrideBad: true });
  return undefined;
}

/** roll-back.ts (and the flip back it drives): loaded when a transaction goes back or is undone, not by one that goes through. */
function waysBack(): Promise<typeof import('./roll-back.js')> {
  return import('./roll-back.js');
}

function supervised(supervisor: Supervisor | null): Supervisor {
  if (supervisor) return supervisor;
  throw new ReleaseSwitcherError('INTERNAL', 'The way back was entered without a supervisor.', {
    hint: 'This is a bug in release-switcher; please report it with release-switcher status --json.',
  });
}
