/**
 * After the target's start: a transaction owed a state checkpoint (snapshot/checkpoint-due.ts) that finds none has
 * lost the way back to the state it left, since the target may have migrated it. It fails its verification with
 * reason `state_checkpoint_missing` (the CLI's STATE_CHECKPOINT_MISSING) and goes back the usual way, instead of
 * ending `verified` and leaving `rollback` to be refused later. Why none was taken comes from the boot-check's own
 * record of that start (store/boot-check-record.ts): it did not run (a moved installation), it failed, or it ran and
 * could not copy the state.
 */
import { CHECKPOINT_MISSING_REASON, checkpointDue } from '../snapshot/checkpoint-due.js';
import { bootCheckHint, judgeBootCheck, readBootCheckRecord } from '../store/boot-check-record.js';
import type { JournalSession } from '../store/session.js';
import type { Transaction } from '../model/state.js';
import type { Failure } from './steps.js';

/**
 * The failure when `tx` was owed a checkpoint and none was taken for it (its detail says why, for the release's bad
 * mark and the way back), with the words for its failed verify step (what that costs, and what to do); undefined
 * otherwise.
 */
export async function missingCheckpoint(
  session: JournalSession,
  tx: Transaction,
): Promise<{ failure: Failure; step: string } | undefined> {
  if (!checkpointDue(session.config, tx) || tx.snapshot) return undefined;
  // lazy: the snapshot store (with its copier) only for a transaction owed a checkpoint
  const { readSnapshot } = await import('../snapshot/snapshot.js');
  if (await readSnapshot(session.layout, tx.id)) return undefined;
  const detail = `no state checkpoint was taken before ${tx.to} first started (${await whyNone(session)})`;
  return {
    failure: { reason: CHECKPOINT_MISSING_REASON, detail },
    step: `${CHECKPOINT_MISSING_REASON}: ${detail}: ${tx.to} may have changed the state, a migration included, and nothing can put back the state ${tx.from} left. ${bootCheckHint(session.config)}`,
  };
}

/**
 * For `--dry-run`: a switch owed a checkpoint while the boot-check did not run at the service's present start (its
 * command gone, failing) would, unless it runs at the restart, take none and fail. Undefined when not owed one, or the
 * boot-check ran, or it cannot be told.
 */
export async function checkpointAtRisk(
  session: Pick<JournalSession, 'config' | 'layout' | 'runtime'>,
  tx: Pick<Transaction, 'from' | 'to' | 'restore'>,
): Promise<{ note: string } | undefined> {
  if (!checkpointDue(session.config, tx)) return undefined;
  const { config, layout, runtime } = session;
  const record = await readBootCheckRecord(layout).catch(() => undefined);
  // lazy: asks systemd for the unit's start, only for a switch owed a checkpoint
  const { unitStart } = await import('../service/unit-start.js');
  const verdict = judgeBootCheck(record, await unitStart(config, { env: runtime.env, signal: runtime.signal }));
  if (verdict.at !== 'did-not-run') return undefined;
  return {
    note: `${verdict.detail}: unless it runs at the restart, no state checkpoint is taken before ${tx.to} first starts and the switch fails STATE_CHECKPOINT_MISSING. ${bootCheckHint(config)}`,
  };
}

/** What the boot-check's record says of the target's start. */
async function whyNone(session: Pick<JournalSession, 'config' | 'layout' | 'runtime'>): Promise<string> {
  const { config, layout, runtime } = session;
  const record = await readBootCheckRecord(layout).catch((error: Error) => error);
  if (record instanceof Error) return `the boot-check's record cannot be read: ${record.message}`;
  // lazy: asks systemd for the unit's start, only when a checkpoint is missing
  const { unitStart } = await import('../service/unit-start.js');
  const unit = await unitStart(config, { env: runtime.env, signal: runtime.signal });
  const verdict = judgeBootCheck(record, unit);
  if (verdict.at !== 'ran') return verdict.detail;
  return `the boot-check ran at this start but took none${verdict.run.stateError ? `: ${verdict.run.stateError}` : ''} (${verdict.detail})`;
}
