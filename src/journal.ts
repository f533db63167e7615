/**
 * `state.json`: the journal. Every transition is written (temp + fsync + rename) before it is acted
 * on, so after a kill -9 anywhere `recover` knows what was in flight and can finish or undo it.
 */
import { randomBytes } from 'node:crypto';
import { crashPoint, type CrashPointName } from './crashpoint.js';
import { ReleaseSwitcherError } from './errors.js';
import { readJsonIfExists, writeFileAtomic } from './fsutil.js';
import { LAYOUT_VERSION, layoutOf } from './layout.js';

export type ReleaseState = 'installed' | 'pending' | 'good' | 'bad';

export interface ReleaseRecord {
  version: string;
  state: ReleaseState;
  pinned: boolean;
  installedAt: string;
  integrity: string | null;
  /** Where it came from: the resolved tarball URL or file. */
  source: string;
  /** Why it was marked bad. */
  reason?: string;
}

export type StepStatus = 'running' | 'ok' | 'failed' | 'skipped';
export interface Step {
  name: string;
  status: StepStatus;
  ms: number;
  detail?: string;
  /** Probe evidence of a verify step (probes, status, version, supervisor state). */
  evidence?: unknown;
}

export type TransactionKind = 'update' | 'switch' | 'rollback' | 'recover';
export type TerminalStatus = 'verified' | 'switched' | 'up_to_date' | 'rolled_back' | 'rollback_failed' | 'failed';
export type InFlightStatus = 'staging' | 'switching' | 'restarting' | 'verifying' | 'rolling_back' | 'scheduled';
export type TransactionStatus = TerminalStatus | InFlightStatus;

export interface Transaction {
  id: string;
  kind: TransactionKind;
  status: TransactionStatus;
  from: string | null;
  to: string | null;
  reason: string | null;
  startedAt: string;
  finishedAt: string | null;
  steps: Step[];
  /** Where the links pointed before the flip, so an interrupted flip can be undone. */
  before?: { current: string | null; previous: string | null };
  /** For `rollback_failed`: what a human should run. */
  hint?: string;
  /** A runner outside the service carries it out: when it was handed over and its last sign of life. */
  scheduledAt?: string;
  heartbeatAt?: string;
  /** A scheduled update whose runner stages the release first: what to install. */
  spec?: string;
  /** The latest progress of a runner's staging, for `update.status`. */
  progress?: { phase: string; message: string; done?: number; total?: number; at: string };
  /** The state snapshot (`snapshots/<id>/`, id = this transaction's) the boot-check took before `to` first started. */
  snapshot?: string;
  /** A snapshot to put back before `version` starts: the boot-check restores it while the service is stopped. */
  restore?: { snapshot: string; version: string };
}

/** A mutation that is not a transaction (install, prune) but must still be finished or undone. */
export interface Operation {
  kind: 'install' | 'prune';
  id: string;
  startedAt: string;
  /** install: the version being staged, once known. prune: the versions being removed. */
  versions: string[];
}

export interface State {
  layoutVersion: number;
  releases: Record<string, ReleaseRecord>;
  /** The transaction in flight, or null. */
  transaction: Transaction | null;
  operation: Operation | null;
  /** Finished transactions, newest last. */
  history: Transaction[];
}

export const HISTORY_LIMIT = 50;

export function emptyState(): State {
  return { layoutVersion: LAYOUT_VERSION, releases: {}, transaction: null, operation: null, history: [] };
}

export function newId(): string {
  return `${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`;
}

const corrupt = (file: string, why: string, cause?: unknown) =>
  new ReleaseSwitcherError('CORRUPT_STATE', `${file} is corrupt: ${why}.`, {
    hint: `Inspect it, then move it aside (mv ${file} ${file}.bad) and run release-switcher recover to rebuild it from releases/.`,
    cause,
  });

export async function readState(root: string): Promise<State> {
  const file = layoutOf(root).state;
  let raw: unknown;
  try {
    raw = await readJsonIfExists(file);
  } catch (error) {
    throw corrupt(file, 'not valid JSON', error);
  }
  if (raw === undefined) return emptyState();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw corrupt(file, 'not an object');
  const state = raw as Partial<State>;
  if (state.layoutVersion !== LAYOUT_VERSION) throw corrupt(file, `layout version ${String(state.layoutVersion)} is not ${LAYOUT_VERSION}`);
  if (typeof state.releases !== 'object' || state.releases === null || Array.isArray(state.releases)) throw corrupt(file, '"releases" is not an object');
  if (!Array.isArray(state.history)) throw corrupt(file, '"history" is not a list');
  for (const [version, record] of Object.entries(state.releases)) {
    if (record?.version !== version || !['installed', 'pending', 'good', 'bad'].includes(record.state)) {
      throw corrupt(file, `release "${version}" has an invalid record`);
    }
  }
  return { transaction: null, operation: null, ...state } as State;
}

/**
 * The journal of one root, held by whoever holds the lock. `commit` writes the whole state durably
 * and then passes the named crash point, so every transition is a place a test can kill us.
 */
export class Journal {
  private constructor(
    readonly root: string,
    public state: State,
  ) {}

  static async open(root: string): Promise<Journal> {
    return new Journal(root, await readState(root));
  }

  private writing: Promise<void> = Promise.resolve();

  /**
   * Commits are chained and serialize the state when their turn comes, so a heartbeat committed
   * concurrently with a step can never put an older state on disk after a newer one.
   */
  async commit(point?: CrashPointName): Promise<void> {
    const file = layoutOf(this.root).state;
    const write = this.writing.then(() => writeFileAtomic(file, JSON.stringify(this.state, null, 2) + '\n'));
    this.writing = write.catch(() => undefined);
    await write;
    if (point) crashPoint(point);
  }

  /** Move the transaction in flight to history. */
  archiveTransaction(): Transaction | null {
    const tx = this.state.transaction;
    if (tx) {
      this.state.history = [...this.state.history, tx].slice(-HISTORY_LIMIT);
      this.state.transaction = null;
    }
    return tx;
  }

  lastTransaction(): Transaction | null {
    return this.state.transaction ?? this.state.history.at(-1) ?? null;
  }
}

/** Time one step: recorded as running before it runs, then ok/failed with its duration. */
export async function runStep<T>(
  journal: Journal,
  tx: Transaction,
  name: string,
  action: (step: Step) => Promise<T>,
): Promise<T> {
  const step: Step = { name, status: 'running', ms: 0 };
  tx.steps.push(step);
  await journal.commit();
  const started = performance.now();
  try {
    const result = await action(step);
    if (step.status === 'running') step.status = 'ok';
    return result;
  } catch (error) {
    step.status = 'failed';
    step.detail ??= error instanceof Error ? error.message : String(error);
    throw error;
  } finally {
    step.ms = Math.round(performance.now() - started);
  }
}

/** How long a scheduled transaction may wait for its runner's first heartbeat. */
export const RUNNER_GRACE_MS = 30_000;

/** Whether a scheduled transaction waited past the grace period without its runner ever reporting. */
export function runnerNeverRan(tx: Transaction, now = Date.now()): boolean {
  return tx.status === 'scheduled' && !tx.heartbeatAt && now - Date.parse(tx.scheduledAt ?? tx.startedAt) > RUNNER_GRACE_MS;
}
