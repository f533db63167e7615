/**
 * The bulk copy of the state checkpoint, made before the restart while the old release still serves, so
 * the boot-check only reconciles what changed since in the stop window (snapshot/reconcile.ts). The
 * checkpoint itself is still taken by the boot-check, before the target's first start and before anything
 * the target runs with the service stopped: a step ordered after the snapshot (e.g. an update finalize)
 * finds the state already checkpointed. Best effort: without a staged copy, the boot-check copies it all.
 */
import type { Transaction } from '../model/state.js';
import type { JournalSession } from '../store/session.js';
import { checkpointDue } from '../snapshot/checkpoint-due.js';

export async function stageStateCheckpoint(session: JournalSession, tx: Transaction): Promise<void> {
  const { config, layout, runtime } = session;
  // Only the boot-check (a systemd unit's ExecStartPre) takes checkpoints: elsewhere nothing would use it.
  if (!checkpointDue(config, tx) || tx.from === null || tx.to === null) return;
  // lazy: the snapshot store and its copier only for a transaction owed a checkpoint
  const { stageCheckpoint } = await import('../snapshot/snapshot.js');
  const started = Date.now();
  try {
    // lazy: whom the service runs as (its unit, /proc) only for a checkpoint
    const service = await (await import('./service-identity.js')).serviceIdentity(session);
    const bytes = await stageCheckpoint({
      root: layout.root,
      id: tx.id,
      statePaths: config.statePaths,
      residue: config.residue,
      independentPaths: config.independentPaths,
      sqliteNodes: [config.node, process.execPath],
      env: service.env,
      // Read with the service's account's rights, never root's (snapshot/state-side.ts).
      as: service.runAs,
      fromVersion: tx.from,
      toVersion: tx.to,
    });
    runtime.onProgress({
      phase: 'restart',
      message: `state checkpoint staged (${bytes} bytes, ${Date.now() - started} ms)`,
    });
  } catch (error) {
    runtime.onProgress({ phase: 'restart', message: `state checkpoint not staged: ${(error as Error).message}` });
  }
}
