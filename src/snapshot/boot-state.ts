/**
 * The boot-check's part in state snapshots. It runs as ExecStartPre: the old process has stopped and
 * the new one has not started, the one moment a copy of the service's SQLite files is consistent and
 * putting them back cannot race the service. It never writes the journal here (a runner may hold it,
 * waiting for this very start); what it did is left in the snapshot folder for that runner to read.
 */
import type { Config } from '../store/config.js';
import type { State, TransactionStatus } from '../model/state.js';
import type { Layout } from '../store/layout.js';
import { statSync } from 'node:fs';
import { ReleaseSwitcherError } from '../model/errors.js';
import { lookupAccount } from '../platform/accounts.js';
import type { RunAs } from '../platform/run-as.js';
import { interruptedRestoreFor } from './restore-marker.js';
import { markRestored, readSnapshot, restoreSnapshot, restoredFor, takeSnapshot } from './snapshot.js';

export interface StateAtStart {
  /** The snapshot taken before this start (the id of its transaction). */
  snapshot?: string;
  /** The snapshot put back before this start. */
  restored?: string;
  /** Why the state could not be snapshotted or put back; the start goes on regardless. */
  stateError?: string;
}

/** A transaction whose target is starting for the first time within it. */
const STARTING: ReadonlySet<TransactionStatus> = new Set(['switching', 'restarting', 'verifying']);

/**
 * Before `version` starts: put back the snapshot the transaction in flight asked for, or else take
 * one for it. Every transaction that brings a release in gets its own, even for a release that ran
 * before: it migrates the state again, and only a snapshot from just before can undo that.
 */
export async function prepareStateAtStart(input: {
  layout: Layout;
  config: Config;
  state: State;
  version: string;
  env: NodeJS.ProcessEnv;
}): Promise<StateAtStart> {
  const { layout, config, version } = input;
  const tx = input.state.transaction;
  try {
    // A restore for this release that was cut (kill -9 mid-restore) is finished first, for the latest transaction,
    // even one closed since: the release must not run on state half put back.
    const cut = await interruptedRestoreFor(layout, version, input.state);
    if (cut) {
      await restoreForTransaction(layout, cut.snapshot, { tx: cut.tx!, version, as: stateAccount(config, layout) });
      return { restored: cut.snapshot };
    }
    if (tx?.restore) {
      if (tx.restore.version !== version || (await restoredFor(layout, tx.restore.snapshot, tx.id))) return {};
      await restoreForTransaction(layout, tx.restore.snapshot, {
        tx: tx.id,
        version,
        as: stateAccount(config, layout),
      });
      return { restored: tx.restore.snapshot };
    }
    if (!tx || tx.to !== version || tx.from === null || !STARTING.has(tx.status) || config.statePaths.length === 0)
      return {};
    if (await readSnapshot(layout, tx.id)) return {};
    await takeCheckpoint({ layout, config, tx, env: input.env });
    return { snapshot: tx.id };
  } catch (error) {
    return { stateError: (error as Error).message };
  }
}

/**
 * The state checkpoint of transaction `tx`, taken before its target first runs anything on the state (its
 * first start, and any step the target runs with the service stopped before it, such as an update finalize:
 * call this first). Reconciles the bulk copy staged before the restart, if any; does nothing when the
 * checkpoint exists already. Only while the service is stopped.
 */
export async function takeCheckpoint(input: {
  layout: Layout;
  config: Config;
  tx: { id: string; from: string | null; to: string | null };
  env: NodeJS.ProcessEnv;
  /** Whose state it is when not this process's account. @default stateAccount(config, layout) */
  as?: RunAs | undefined;
}): Promise<void> {
  const { layout, config, tx } = input;
  if (tx.from === null || tx.to === null || config.statePaths.length === 0) return;
  if (await readSnapshot(layout, tx.id)) return;
  await takeSnapshot({
    root: layout.root,
    id: tx.id,
    statePaths: config.statePaths,
    residue: config.residue,
    sqliteNodes: [config.node, process.execPath],
    independentPaths: config.independentPaths,
    env: input.env,
    fromVersion: tx.from,
    toVersion: tx.to,
    as: input.as ?? stateAccount(config, layout),
  });
}

/**
 * Whose state it is, for a boot-check run as root (a system unit's `ExecStartPre=+`): the service's account (config
 * `serviceUser`, learned by init from the unit's `User=`), else the root's owner. Undefined when that is root itself
 * or this process is not root (it then works with its own rights, which are the state's or less).
 */
export function stateAccount(config: Pick<Config, 'serviceUser'>, layout: Layout): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const name = config.serviceUser ?? statSync(layout.root).uid;
  const account = lookupAccount(name);
  if (!account)
    throw new ReleaseSwitcherError(
      'SERVICE_ACCOUNT_UNKNOWN',
      `The service's account ${name} is not in /etc/passwd: its state is not touched by root on its behalf.`,
      { hint: 'Fix serviceUser (release-switcher init --service-user NAME) or create the account.' },
    );
  return account.uid === 0 ? undefined : account;
}

/**
 * Restore snapshot `id` for transaction `for.tx` (before `for.version` starts) and leave the marker that says so.
 * Only while the service is stopped.
 */
export async function restoreForTransaction(
  layout: Layout,
  id: string,
  target: {
    tx: string;
    version?: string;
    as?: RunAs | undefined;
    /** Who puts it back: the unit's boot-check, or the runner itself where no boot-check runs (pm2). @default "boot-check" */
    by?: 'boot-check' | 'runner';
  },
): Promise<void> {
  const result = await restoreSnapshot({
    root: layout.root,
    id,
    tx: target.tx,
    as: target.as,
    ...(target.version !== undefined && { version: target.version }),
  });
  await markRestored(layout, id, {
    tx: target.tx,
    by: target.by ?? 'boot-check',
    restored: result.restored,
    removed: result.removed,
  });
}
