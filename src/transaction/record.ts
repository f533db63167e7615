/**
 * The record's one writer: transactions (open, move, close), their steps, their fields, release records
 * (record, state, pin, forget) and the install/prune operations. Every other module asks here and only
 * reads `journal.state`: model/state.ts declares the record read-only and only this module holds a writable
 * view of it (`Writable`, not exported), so a write to the record anywhere else does not compile. The legal
 * moves are machine.ts's tables, so an impossible one is an internal error at the line that tried it.
 * Committing (writing state.json, passing a crash point) stays the caller's: it decides what one write holds.
 */
import type {
  NodeRef,
  Operation,
  ReleaseRecord,
  ReleaseState,
  Step,
  StepName,
  StepStatus,
  TerminalStatus,
  Transaction,
  TransactionStatus,
  TransactionWarning,
} from '../model/state.js';
import type { CrashPointName } from '../platform/crashpoint.js';
import { HISTORY_LIMIT, type Journal, type ReleaseLedger, newId } from '../store/journal.js';
import { transactionOptions } from './options.js';
import { type OpenRequest, RELEASE_TRANSITIONS, canTransition, illegal, isTerminal } from './machine.js';

/** The writer's view of a read-only record: the `readonly` of model/state.ts dropped, here and nowhere else. */
type Writable<T> = { -readonly [K in keyof T]: T[K] };
type WritableTransaction = Omit<Writable<Transaction>, 'steps'> & { steps: Step[] };
type WritableState = Omit<Writable<Journal['state']>, 'releases' | 'history'> & {
  releases: Record<string, ReleaseRecord>;
  history: Transaction[];
};
const txOf = (tx: Transaction) => tx as WritableTransaction;
const stepOf = (step: Step) => step as Writable<Step>;
const releaseOf = (record: ReleaseRecord) => record as Writable<ReleaseRecord>;
const stateOf = (journal: Journal) => journal.state as WritableState;

/** Move `tx` to an in-flight status (terminal ones go through `closeTransaction`). */
export function transition(
  tx: Transaction,
  to: TransactionStatus,
  changes: Partial<Pick<Transaction, 'reason'>> = {},
): void {
  if (isTerminal(to)) throw illegal(`${tx.status} -> ${to} must close the transaction`);
  if (!canTransition(tx.status, to)) throw illegal(`transaction ${tx.id} ${tx.status} -> ${to}`);
  txOf(tx).status = to;
  if ('reason' in changes) txOf(tx).reason = changes.reason ?? null;
}

/** A new transaction (not yet in the journal: `enterTransaction`). A scheduled one carries when it was handed over. */
export function openTransaction(request: OpenRequest): Transaction {
  const now = new Date().toISOString();
  const tx: WritableTransaction = {
    id: newId(),
    kind: request.kind,
    status: request.status,
    from: request.from,
    to: request.to,
    reason: request.reason ?? null,
    startedAt: now,
    finishedAt: null,
    steps: [],
  };
  if (request.before) tx.before = request.before;
  if (request.status === 'scheduled') tx.scheduledAt = now;
  // A runner reads its orders from here: every option of the request is carried, by the one list of them.
  Object.assign(tx, transactionOptions(request));
  return tx as Transaction; // handed out read-only
}

/** Make `tx` the journal's transaction in flight (the caller commits). */
export function enterTransaction(journal: Journal, tx: Transaction): Transaction {
  stateOf(journal).transaction = tx;
  return tx;
}

/** The fields of a transaction its driver keeps up to date (undefined removes one). */
export type TransactionFields = Partial<
  Pick<
    Transaction,
    | 'from'
    | 'before'
    | 'hint'
    | 'restore'
    | 'snapshot'
    | 'heartbeatAt'
    | 'progress'
    | 'runtime'
    | 'acceptCapabilities'
    | 'checkpoint'
    | 'channel'
    | 'origin'
    | 'window'
  >
>;

/** Set (or, with undefined, remove) fields of `tx`. */
export function setFields(tx: Transaction, fields: TransactionFields): void {
  for (const [key, value] of Object.entries(fields) as [keyof TransactionFields, unknown][]) {
    if (value === undefined) delete txOf(tx)[key];
    else (tx as unknown as Record<string, unknown>)[key] = value;
  }
}

/** How a transaction ends: its terminal status, and its reason (undefined: the reason it has stays). */
export interface Closing {
  status: TerminalStatus;
  reason?: string | null | undefined;
}

/**
 * Close `tx` with a terminal status: its steps still running are failed, it gets its finishedAt and,
 * when it is the journal's transaction in flight, moves to history. The caller commits.
 */
export function closeTransaction(journal: Journal | null, tx: Transaction, closing: Closing): Transaction {
  const { status, reason } = closing;
  if (!isTerminal(status)) throw illegal(`${status} is not a closing status`);
  if (!canTransition(tx.status, status)) throw illegal(`transaction ${tx.id} ${tx.status} -> ${status}`);
  txOf(tx).status = status;
  if (reason !== undefined) txOf(tx).reason = reason;
  failRunningSteps(tx);
  txOf(tx).finishedAt = new Date().toISOString();
  if (journal && journal.state.transaction === tx) {
    stateOf(journal).history = [...journal.state.history, tx].slice(-HISTORY_LIMIT);
    stateOf(journal).transaction = null;
  }
  return tx;
}

// ---- steps -----------------------------------------------------------------------------------------

/** What a step may say about itself while it runs: the only way to change a step once it is recorded. */
export interface StepHandle {
  readonly name: StepName;
  /** Set its detail and/or evidence. */
  note(fields: { detail?: string; evidence?: unknown }): void;
  /** It failed (without throwing): its status, and the detail when given. */
  fail(detail?: string): void;
  /** End a step begun with `beginStep`: its status, detail and the time since it began. */
  end(status: Exclude<StepStatus, 'running'>, detail?: string): void;
}

function handleOf(recorded: Step, started = performance.now()): StepHandle {
  const step = stepOf(recorded);
  return {
    name: step.name,
    note(fields) {
      if ('detail' in fields) step.detail = fields.detail;
      if ('evidence' in fields) step.evidence = fields.evidence;
    },
    fail(detail) {
      step.status = 'failed';
      if (detail !== undefined) step.detail = detail;
    },
    end(status, detail) {
      step.status = status;
      step.ms = since(started);
      if (detail !== undefined) step.detail = detail;
    },
  };
}

/** What a step succeeded with, warned of: added to the transaction's warnings (status, list and the CLI show them). */
export function addWarnings(tx: Transaction, warnings: readonly TransactionWarning[]): void {
  if (warnings.length > 0) txOf(tx).warnings = [...(tx.warnings ?? []), ...warnings];
}

/** A step recorded as it ends (done, skipped or failed): `ms` it took, if any. */
export function noteStep(
  tx: Transaction,
  name: StepName,
  status: Exclude<StepStatus, 'running'>,
  detail: string,
  ms = 0,
): void {
  txOf(tx).steps.push({ name, status, ms, detail });
}

/** Milliseconds since `started` (a performance.now()), as a step records them. */
export function since(started: number): number {
  return Math.round(performance.now() - started);
}

/** A step recorded as running now, ended later with `handle.end` (it spans other work, or a commit). */
export function beginStep(tx: Transaction, name: StepName, detail?: string): StepHandle {
  const step: Step = { name, status: 'running', ms: 0, ...(detail !== undefined && { detail }) };
  txOf(tx).steps.push(step);
  return handleOf(step);
}

export interface RunStepOptions {
  /** The step is the transaction's last, already journaled as running by the caller's commit: not written again. */
  journaled?: boolean;
  /** The crash point the step's own commit passes (see Journal.commit). */
  point?: CrashPointName;
}

/** Where a step is recorded: a transaction and its journal, or a driven run (steps.ts `Run`). */
export type StepScope = { journal: Journal; tx: Transaction } | { session: { journal: Journal }; tx: Transaction };

/**
 * Run one step of `tx`: recorded as running and committed before it acts (so a killed run leaves a record
 * of where it was), then ok or failed with its duration. `action` reports through its handle. A new step is
 * `(run) => runStep(run, 'name', async (step) => { …; step.note({ detail }) })`, its name added to STEP_NAMES.
 */
export async function runStep<T>(
  scope: StepScope,
  name: StepName,
  action: (step: StepHandle) => Promise<T>,
  options: RunStepOptions = {},
): Promise<T> {
  const { tx } = scope;
  const journal = 'journal' in scope ? scope.journal : scope.session.journal;
  const last = tx.steps.at(-1);
  let step: Writable<Step>;
  if (options.journaled && last?.name === name && last.status === 'running') step = stepOf(last);
  else {
    step = { name, status: 'running', ms: 0 };
    txOf(tx).steps.push(step);
    await journal.commit(options.point);
  }
  const started = performance.now();
  try {
    const result = await action(handleOf(step, started));
    if (step.status === 'running') step.status = 'ok';
    return result;
  } catch (error) {
    step.status = 'failed';
    step.detail ??= error instanceof Error ? error.message : String(error);
    throw error;
  } finally {
    step.ms = since(started);
  }
}

/** Steps a killed run left running did not finish. */
export function failRunningSteps(tx: Transaction): void {
  for (const step of tx.steps) if (step.status === 'running') stepOf(step).status = 'failed';
}

// ---- releases and operations --------------------------------------------------------------------------

/** Change a release's state; `reason` is kept with `bad` only. */
export function setReleaseState(record: ReleaseRecord, state: ReleaseState, reason?: string): void {
  if (!RELEASE_TRANSITIONS[record.state].includes(state))
    throw illegal(`release ${record.version} ${record.state} -> ${state}`);
  releaseOf(record).state = state;
  if (state === 'bad' && reason !== undefined) releaseOf(record).reason = reason;
}

/** After a flip: a release never started before becomes pending (the boot-check counts its starts). Whether it did. */
export function markPending(record: ReleaseRecord | undefined): boolean {
  if (record === undefined || record.state !== 'installed') return false;
  setReleaseState(record, 'pending');
  return true;
}

/** A flip undone before its release ever started (a restart sudo or polkit refused): installed again, as it was. */
export function unmarkPending(record: ReleaseRecord | undefined): void {
  if (record?.state === 'pending') setReleaseState(record, 'installed');
}

/** A verified release is good, except one already judged bad on this way (a rollback never unmarks it). */
export function markGood(record: ReleaseRecord | undefined, options: { overrideBad: boolean }): void {
  if (record && (options.overrideBad || record.state !== 'bad')) setReleaseState(record, 'good');
}

/** The release `version` failed: bad, with why (no record: nothing to mark). */
export function markBad(journal: Journal, version: string, reason: string): void {
  const record = journal.state.releases[version];
  if (record) setReleaseState(record, 'bad', reason);
}

/** Pin or unpin a release; whether that changed anything (the caller commits when it did). */
export function setPinned(record: ReleaseRecord, pinned: boolean): boolean {
  if (record.pinned === pinned) return false;
  releaseOf(record).pinned = pinned;
  return true;
}

/** The Node a release runs on (ReleaseRecord.node), as transaction/runtime.ts learns it. */
export function setReleaseNode(record: ReleaseRecord, node: NodeRef): void {
  releaseOf(record).node = node;
}

/** The release spoke the restart-handoff protocol (ReleaseRecord.restartHandoff). */
export function setRestartHandoff(record: ReleaseRecord): void {
  releaseOf(record).restartHandoff = 1;
}

/** A release now in releases/<version>. */
export function recordRelease(journal: Journal, record: ReleaseRecord): void {
  stateOf(journal).releases[record.version] = record;
}

/** A release whose directory is gone. */
export function forgetRelease(journal: Journal, version: string): void {
  delete stateOf(journal).releases[version];
}

/** An install or prune under way (recovery closes one a killed run left). */
export function beginOperation(journal: Journal, operation: Operation): void {
  stateOf(journal).operation = operation;
}

export function endOperation(journal: Journal): void {
  stateOf(journal).operation = null;
}

/** What staging (a layer below) asks of this module, handed to it with the session (mutate.ts). */
export function ledgerOf(journal: Journal): ReleaseLedger {
  return {
    beginOperation: (operation) => beginOperation(journal, operation),
    endOperation: () => endOperation(journal),
    recordRelease: (record) => recordRelease(journal, record),
  };
}
