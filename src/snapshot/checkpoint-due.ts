/**
 * Whether a transaction is owed a state checkpoint before its target first starts: the one rule the staged copy
 * (transaction/stage-checkpoint.ts), the boot-check (boot-state.ts, at the unit's start) and the check after the start
 * (transaction/checkpoint-check.ts) share. A transaction owed one that finds none after the start has lost the way
 * back to the state it left: it fails its verification (reason `state_checkpoint_missing`) rather than go on silently.
 */
import type { Config } from '../store/config.js';
import type { Transaction } from '../model/state.js';

/** The transaction's reason, and the stable error code the CLI reports it with (model/errors.ts). */
export const CHECKPOINT_MISSING_REASON = 'state_checkpoint_missing';

/**
 * Due when the service keeps state (`statePaths`, a preset's included), a release runs on it now (`from`), the
 * transaction puts no checkpoint back instead (`restore`), and the boot-check takes it: only a systemd unit's
 * ExecStartPre does (elsewhere there is no moment the service is known stopped, and none is ever taken).
 */
export function checkpointDue(
  config: Pick<Config, 'supervisor' | 'statePaths'>,
  tx: Pick<Transaction, 'from' | 'to' | 'restore'>,
): boolean {
  if (config.supervisor !== 'systemd' && config.supervisor !== 'systemd-system') return false;
  return config.statePaths.length > 0 && tx.from !== null && tx.to !== null && !tx.restore;
}
