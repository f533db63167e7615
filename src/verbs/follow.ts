import { setTimeout as sleep } from 'node:timers/promises';
import { ReleaseSwitcherError } from '../model/errors.js';
import { type State, type Transaction, publicTransaction } from '../model/state.js';
import { RUNNER_GRACE_MS, readState, runnerGone } from '../store/journal.js';
import { type RootOptions, openSession } from '../store/session.js';

export interface FollowOptions extends RootOptions {
  /** The transaction to wait for, e.g. the `id` of a `scheduled` one. */
  id: string;
  /** How often the journal is read. @default 500 */
  pollMs?: number;
}

/**
 * Wait for the verdict of a transaction handed to a runner (`scheduled`) and resolve with it once it is finished:
 * `verified`, `rolled_back`, `failed`… A runner that never reported is `failed` (`runner_never_ran`,
 * `runner_died`), as `status` tells it. Reads only; takes no lock. Rejects with CANCELLED when the runtime's
 * `signal` aborts (the runner goes on), with INCONSISTENT_ROOT when the runner stopped reporting after it began
 * to switch (`recover` finishes or undoes it), and with RELEASE_NOT_FOUND for an id the journal does not know.
 */
export async function followTransaction(options: FollowOptions): Promise<Transaction> {
  const { layout, runtime } = await openSession(options);
  for (;;) {
    const verdict = verdictOf(await readState(layout.root), options.id);
    if (verdict) return publicTransaction(verdict)!;
    try {
      await sleep(options.pollMs ?? 500, undefined, runtime.signal ? { signal: runtime.signal } : {});
    } catch (error) {
      throw new ReleaseSwitcherError('CANCELLED', `Stopped waiting for transaction ${options.id}.`, {
        hint: 'The runner goes on: follow it with release-switcher status.',
        cause: error,
      });
    }
  }
}

/** The finished transaction `id`, or null while it is in flight with a runner that reports. */
function verdictOf(state: State, id: string, now = Date.now()): Transaction | null {
  const tx = state.transaction;
  if (tx?.id === id) {
    const gone = runnerGone(tx, now);
    if (gone) return { ...tx, status: 'failed', reason: gone };
    // A runner writes a heartbeat while it works; one that stopped mid-switch left work that recovery must judge.
    if (tx.heartbeatAt && now - Date.parse(tx.heartbeatAt) > RUNNER_GRACE_MS) {
      throw new ReleaseSwitcherError(
        'INCONSISTENT_ROOT',
        `The runner of transaction ${id} stopped reporting while ${tx.status}.`,
        { hint: 'release-switcher recover finishes or undoes it.', result: publicTransaction(tx) },
      );
    }
    return null;
  }
  const done = state.history.findLast((old) => old.id === id);
  if (done) return done;
  throw new ReleaseSwitcherError('RELEASE_NOT_FOUND', `No transaction ${id} in the journal.`, {
    hint: 'See the last one with: release-switcher status',
  });
}
