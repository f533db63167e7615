/**
 * `state.json`: the journal. Every transition is written (temp + fsync + rename) before it is acted
 * on, so after a kill -9 anywhere `recover` knows what was in flight and can finish or undo it.
 */
import { randomBytes } from 'node:crypto';
import { crashPoint, type CrashPointName } from '../platform/crashpoint.js';
import { ReleaseSwitcherError } from '../model/errors.js';
import { readJsonIfExists, writeFileAtomic } from '../platform/fs.js';
import { LAYOUT_VERSION, layoutOf } from './layout.js';
import type { Step, Transaction, State } from '../model/state.js';

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
