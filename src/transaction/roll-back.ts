/**
 * The driver's ways back. `rollBack` (way-back.ts): after the flip, the target failed; it brings `tx.from` back, step
 * by step in the plan's `back` order, and ends `rolled_back` or `rollback_failed`. `undo`: before the flip (or with the
 * flip half done), the links go back to where they were and the transaction ends `failed`. Both are where recovery
 * re-enters too.
 */
import { pointLink, readLinkVersion, removeLink } from '../store/links.js';
import { closeTransaction, noteStep, unmarkPending } from './record.js';
import { pointRuntime } from './runtime.js';
import type { Run } from './steps.js';
import { publicTransaction, type Transaction } from '../model/state.js';
import type { ReleaseSwitcherError } from '../model/errors.js';

export { rollBack } from './way-back.js';

/**
 * The restart was refused by sudo or polkit and the service runs as it did (activate.ts): nothing started the target.
 * The flip is undone (`current` and `previous` back, the target installed again, not pending), the transaction closes
 * `failed` (reason `permission_denied`), and the refusal is thrown: PERMISSION_DENIED, exit 1, with the sudoers line or
 * polkit rule that is missing, and the transaction as its result.
 */
export async function undoRefused(run: Run, refusal: ReleaseSwitcherError): Promise<never> {
  const { tx } = run;
  run.window?.unwatch();
  if (run.markedPending) unmarkPending(run.session.journal.state.releases[tx.to!]);
  noteStep(
    tx,
    'rollback',
    'ok',
    `the restart was refused, the service not touched; current -> releases/${tx.before?.current ?? tx.from} again`,
  );
  await undo(run, 'permission_denied');
  refusal.result = publicTransaction(tx);
  throw refusal;
}

/**
 * Before the flip nothing serves the target: put `current` and `previous` back where the transaction
 * found them (a no-op unless a flip was cut half way) and close it `failed` with `reason`.
 */
export async function undo(run: Run, reason: string): Promise<Transaction> {
  const { layout, journal } = run.session;
  const current = await readLinkVersion(layout, 'current');
  const before = run.tx.before ?? { current, previous: await readLinkVersion(layout, 'previous') };
  if (before.current !== null && current !== before.current) await pointLink(layout, 'current', before.current);
  const previous = await readLinkVersion(layout, 'previous');
  if (previous !== before.previous) {
    if (before.previous === null) await removeLink(layout, 'previous');
    else await pointLink(layout, 'previous', before.previous);
  }
  await pointRuntime(run.session, run.tx, 'from'); // a flip cut half way may have moved the unit's Node
  closeTransaction(journal, run.tx, { status: 'failed', reason });
  await journal.commit();
  if (run.prepared) await discardPrepared(run.session, run.tx);
  return run.tx;
}

/**
 * What a transaction that ended before its flip had made while the old release served (activate.ts beforeTheStop):
 * the staged checkpoint and the ready copy of a snapshot to put back. Best effort: recovery sweeps what is left.
 */
async function discardPrepared(session: Run['session'], tx: Run['tx']): Promise<void> {
  const { layout } = session;
  // lazy: the snapshot store only for an undo (a transaction that goes through never loads it here)
  const { discardStagedCheckpoint } = await import('../snapshot/snapshot.js');
  await discardStagedCheckpoint(layout, tx.id).catch(() => undefined);
  if (!tx.restore) return;
  // lazy: the swap's records only when a snapshot was to be put back
  const swap = await import('../snapshot/swap-record.js');
  const record = await swap.readSwapRecord(layout, tx.restore.snapshot, tx.id, { complete: false });
  if (!record) return;
  // lazy: whom the service runs as (its unit, /proc) only when there is a ready copy to remove
  const identity = await (await import('./service-identity.js')).serviceIdentity(session).catch(() => undefined);
  if (!identity) return; // whom to remove it as is unknown: recovery sweeps it
  // lazy: the swap's copier only when there is a ready copy to remove
  await (await import('../snapshot/swap.js')).discardSwap(layout, record, identity.runAs).catch(() => undefined);
}
