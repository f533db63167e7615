/**
 * `state.json`: the journal. Every transition is written (temp + fsync + rename) before it is acted
 * on, so after a kill -9 anywhere `recover` knows what was in flight and can finish or undo it.
 */
import { randomBytes } from 'node:crypto';
import { crashPoint, type CrashPointName } from '../platform/crashpoint.js';
import { ReleaseSwitcherError, asDiskFull } from '../model/errors.js';
import { readJsonIfExists, writeFileAtomic } from '../platform/fs.js';
import { asPermissionDenied } from '../platform/permission.js';
import { LAYOUT_VERSION, layoutOf } from './layout.js';
import { assertLockHeld } from './lock.js';
import {
  IN_FLIGHT_STATUSES,
  STEP_STATUSES,
  TERMINAL_STATUSES,
  TRANSACTION_KINDS,
  type Operation,
  type ReleaseRecord,
  type Transaction,
  type State,
} from '../model/state.js';

export const HISTORY_LIMIT = 50;

export function emptyState(): State {
  return { layoutVersion: LAYOUT_VERSION, releases: {}, transaction: null, operation: null, history: [] };
}

export function newId(): string {
  return `${new Date()
    .toISOString()
    .replace(/[-:.TZ]/g, '')
    .slice(0, 14)}-${randomBytes(3).toString('hex')}`;
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
    const denied = asPermissionDenied(error, 'reading the journal', file);
    throw denied !== error ? denied : corrupt(file, 'not valid JSON', error);
  }
  if (raw === undefined) return emptyState();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw corrupt(file, 'not an object');
  const state = raw as Partial<State>;
  if (state.layoutVersion !== LAYOUT_VERSION)
    throw corrupt(file, `layout version ${String(state.layoutVersion)} is not ${LAYOUT_VERSION}`);
  if (typeof state.releases !== 'object' || state.releases === null || Array.isArray(state.releases))
    throw corrupt(file, '"releases" is not an object');
  if (!Array.isArray(state.history)) throw corrupt(file, '"history" is not a list');
  for (const [version, record] of Object.entries(state.releases)) {
    if (record?.version !== version || !['installed', 'pending', 'good', 'bad'].includes(record.state)) {
      throw corrupt(file, `release "${version}" has an invalid record`);
    }
  }
  if (state.transaction !== undefined && state.transaction !== null) {
    const why = invalidTransaction(state.transaction);
    if (why) throw corrupt(file, `the transaction in flight ${why}`);
  }
  state.history.forEach((entry, index) => {
    const why = invalidTransaction(entry);
    if (why) throw corrupt(file, `history entry ${index} ${why}`);
  });
  return { transaction: null, operation: null, ...state } as State;
}

const isStringOrNull = (value: unknown) => value === null || typeof value === 'string';
const oneOf = (list: readonly string[], value: unknown) => typeof value === 'string' && list.includes(value);

/** What is wrong with a journaled transaction's shape, or null: the fields every reader relies on. */
function invalidTransaction(raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'is not an object';
  const tx = raw as Record<string, unknown>;
  if (typeof tx.id !== 'string' || tx.id === '') return 'has no id';
  if (!oneOf(TRANSACTION_KINDS, tx.kind)) return `has an unknown kind ${JSON.stringify(tx.kind)}`;
  if (!oneOf([...TERMINAL_STATUSES, ...IN_FLIGHT_STATUSES], tx.status))
    return `has an unknown status ${JSON.stringify(tx.status)}`;
  if (!isStringOrNull(tx.from) || !isStringOrNull(tx.to) || !isStringOrNull(tx.reason ?? null))
    return 'has an invalid from, to or reason';
  if (typeof tx.startedAt !== 'string' || !isStringOrNull(tx.finishedAt ?? null)) return 'has invalid timestamps';
  if (!Array.isArray(tx.steps)) return 'has no list of steps';
  for (const step of tx.steps as unknown[]) {
    const s = step as Record<string, unknown> | null;
    if (typeof s !== 'object' || s === null || typeof s.name !== 'string' || !oneOf(STEP_STATUSES, s.status))
      return 'has an invalid step';
  }
  return null;
}

/**
 * The journal of one root, held by whoever holds the lock. `commit` writes the whole state durably
 * and then passes the named crash point, so every transition is a place a test can kill us.
 */
export class Journal {
  private constructor(
    readonly root: string,
    // Read-only here and in model/state.ts: transaction/record.ts alone writes the record (its writable view).
    readonly state: State,
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
    // A holder paused past the stale time may have been taken over: it must not write after that.
    await assertLockHeld(this.root);
    const file = layoutOf(this.root).state;
    const write = this.writing.then(() => writeFileAtomic(file, `${JSON.stringify(this.state, null, 2)}\n`));
    this.writing = write.catch(() => undefined);
    // A full disk at the journal is the disk's fault, not a bug: the last committed state.json stays (atomic write).
    await write.catch((error: unknown) => {
      throw asDiskFull(error, 'writing the journal (state.json)');
    });
    if (point) crashPoint(point);
  }
}

/**
 * What staging asks of the record's one writer (transaction/record.ts `ledgerOf`, handed over with the
 * session by transaction/mutate.ts): staging sits below transaction/ and writes no record itself.
 */
export interface ReleaseLedger {
  beginOperation(operation: Operation): void;
  endOperation(): void;
  recordRelease(record: ReleaseRecord): void;
}

/** How long a scheduled transaction may wait for its runner's first heartbeat. */
export const RUNNER_GRACE_MS = 30_000;

/**
 * Whether a scheduled transaction's runner is gone: no first heartbeat within the grace period
 * (`runner_never_ran`), or a last heartbeat older than it (`runner_died`: it beats every 2 s while
 * alive). Null while it may still be working.
 */
export function runnerGone(tx: Transaction, now = Date.now()): 'runner_never_ran' | 'runner_died' | null {
  if (tx.status !== 'scheduled') return null;
  const lastSign = Date.parse(tx.heartbeatAt ?? tx.scheduledAt ?? tx.startedAt);
  if (!(now - lastSign > RUNNER_GRACE_MS)) return null;
  return tx.heartbeatAt ? 'runner_died' : 'runner_never_ran';
}
