import { readState, runnerGone } from '../store/journal.js';
import { unitStart } from '../service/unit-start.js';
import { type Transaction, publicTransaction } from '../model/state.js';
import { type Running, whatRuns } from '../doctor/running.js';
import { readLinkVersion } from '../store/links.js';
import { type RootOptions, openSession } from '../store/session.js';
import { type AutoUpdatePause, readPause } from '../store/auto-update-pause.js';
import {
  type BootCheckRun,
  type BootCheckVerdict,
  judgeBootCheck,
  readBootCheckRecord,
} from '../store/boot-check-record.js';
import type { Config } from '../store/config.js';
import type { Layout } from '../store/layout.js';

export type { Running } from '../doctor/running.js';

export interface StatusResult {
  current: string | null;
  previous: string | null;
  /**
   * What the supervised service really runs (docs/exit-codes-and-json.md, `status`: version, pid, since, source,
   * `stale`: it is not `current`, updated but not restarted). Null when nothing runs or it cannot be told.
   */
  running: Running | null;
  /** The transaction in flight, else the last one, else null. */
  transaction: Transaction | null;
  /** Whether the auto-updater is paused (`timer --pause`): since when, by whom, why. */
  autoUpdate: AutoUpdatePause;
  /**
   * The boot-check's last run at a start (boot-check.json) and whether it ran at the service's present start (`ran`,
   * `did-not-run`: the unit started and no boot-check recorded that start, `unknown`); null where no boot-check runs
   * (no systemd unit) and none has recorded a run.
   */
  bootCheck: BootCheckStatus | null;
}

export interface BootCheckStatus {
  /** The last run at a start of the unit, or null: none recorded. */
  last: BootCheckRun | null;
  atLastStart: BootCheckVerdict['at'];
  detail: string;
}

/** Where things stand. Reads only; takes no lock. */
export async function status(options: RootOptions): Promise<StatusResult> {
  const { layout, config, runtime } = await openSession(options);
  const [state, current, previous, running, autoUpdate, bootCheck] = await Promise.all([
    readState(layout.root),
    readLinkVersion(layout, 'current'),
    readLinkVersion(layout, 'previous'),
    whatRuns({ layout, config, env: runtime.env }).catch(() => null),
    readPause(layout),
    bootCheckStatus(layout, config, runtime),
  ]);
  const tx = state.transaction ?? state.history.at(-1) ?? null;
  // A runner that never reported is not in flight forever: say so, as recovery will record it.
  const gone = tx && runnerGone(tx);
  const view = tx && gone ? { ...tx, status: 'failed' as const, reason: gone } : tx;
  return { current, previous, running, transaction: publicTransaction(view), autoUpdate, bootCheck };
}

/** The boot-check's record against the unit's present start (store/boot-check-record.ts). */
async function bootCheckStatus(
  layout: Layout,
  config: Config,
  runtime: { env: NodeJS.ProcessEnv; signal?: AbortSignal | undefined },
): Promise<BootCheckStatus | null> {
  const record = await readBootCheckRecord(layout).catch((error: Error) => error);
  if (record instanceof Error)
    return { last: null, atLastStart: 'unknown', detail: `the boot-check's record cannot be read: ${record.message}` };
  const systemd = config.supervisor === 'systemd' || config.supervisor === 'systemd-system';
  if (!systemd && !record) return null;
  const unit = await unitStart(config, { env: runtime.env, signal: runtime.signal });
  const verdict = judgeBootCheck(record, unit);
  return { last: verdict.run, atLastStart: verdict.at, detail: verdict.detail };
}
