import { readState, runnerGone } from '../store/journal.js';
import { type Transaction, publicTransaction } from '../model/state.js';
import { type Running, whatRuns } from '../doctor/running.js';
import { readLinkVersion } from '../store/links.js';
import { type RootOptions, openSession } from '../store/session.js';
import { type AutoUpdatePause, readPause } from '../store/auto-update-pause.js';

export type { Running } from '../doctor/running.js';

export interface StatusResult {
  current: string | null;
  previous: string | null;
  /**
   * What the supervised service really runs (CONTRACT.md: version, pid, since, source; plus
   * `stale`: it is not `current`, updated but not restarted). Null when nothing runs or it cannot be told.
   */
  running: Running | null;
  /** The transaction in flight, else the last one, else null. */
  transaction: Transaction | null;
  /** Whether the auto-updater is paused (`timer --pause`): since when, by whom, why. */
  autoUpdate: AutoUpdatePause;
}

/** Where things stand. Reads only; takes no lock. */
export async function status(options: RootOptions): Promise<StatusResult> {
  const { layout, config, runtime } = await openSession(options);
  const [state, current, previous, running, autoUpdate] = await Promise.all([
    readState(layout.root),
    readLinkVersion(layout, 'current'),
    readLinkVersion(layout, 'previous'),
    whatRuns({ layout, config, env: runtime.env }).catch(() => null),
    readPause(layout),
  ]);
  const tx = state.transaction ?? state.history.at(-1) ?? null;
  // A runner that never reported is not in flight forever: say so, as recovery will record it.
  const gone = tx && runnerGone(tx);
  const view = tx && gone ? { ...tx, status: 'failed' as const, reason: gone } : tx;
  return { current, previous, running, transaction: publicTransaction(view), autoUpdate };
}
