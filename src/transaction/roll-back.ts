/**
 * The driver's ways back. `rollBack`: after the flip, the target failed; it brings `tx.from` back
 * (state plan, flip-back, restart, verify) and ends `rolled_back` or `rollback_failed`. `undo`: before
 * the flip (or with the flip half done), the links go back to where they were and the transaction ends
 * `failed`. Both are where recovery re-enters too.
 */
import { crashPoint } from '../platform/crashpoint.js';
import type { Supervisor } from '../service/supervisors/types.js';
import { pointLink, readLinkVersion, removeLink } from '../store/links.js';
import { flipBack } from './flip-back.js';
import { closeTransaction, markGood, noteStep, runStep, setFields, transition, unmarkPending } from './record.js';
import { beginRestore, endRestore, planStateReturn } from './state-return.js';
import { pointRuntime, recordRanOn } from './runtime.js';
import { type Failure, type Run, finish, restartStep, verifyStep } from './steps.js';
import { publicTransaction, type Transaction } from '../model/state.js';
import { type ReleaseSwitcherError, isReleaseSwitcherError } from '../model/errors.js';
import { isRefusal } from '../service/refusal.js';
import { checkpointDue } from '../snapshot/checkpoint-due.js';
import { bootCheckHint } from '../store/boot-check-record.js';

/**
 * Words for a transaction that was owed a state checkpoint and has none (snapshot/checkpoint-due.ts), or undefined:
 * going back then cannot promise the state as the release left it.
 */
async function lostCheckpoint(run: Run): Promise<string | undefined> {
  const { session, tx } = run;
  if (!checkpointDue(session.config, tx) || tx.snapshot) return undefined;
  if (await (await import('../snapshot/snapshot.js')).readSnapshot(session.layout, tx.id)) return undefined;
  return `no state checkpoint was taken before ${tx.to} first started: the boot-check took none`;
}

const cancelled = (error: unknown) => isReleaseSwitcherError(error) && error.code === 'CANCELLED';

/** Bring `tx.from` back after `tx.to` failed. Ends `rolled_back` or `rollback_failed`. */
export async function rollBack(run: Run, supervisor: Supervisor, failure: Failure): Promise<Transaction> {
  const { session, tx } = run;
  const { layout, journal } = session;
  transition(tx, 'rolling_back', { reason: failure.reason });
  await journal.commit('rollback:begin');
  const previous = tx.from;
  if (previous === null)
    return failRollback(run, supervisor, {
      why: `${tx.to} failed (${failure.detail}) and there is no earlier release to go back to`,
    });
  // Decided before the flip back: when the state cannot be put back, the failed release stays current
  // rather than starting one that would refuse the migrated state and leave the service down.
  const plan = await planStateReturn({
    layout,
    config: session.config,
    state: journal.state,
    leaving: tx.to!,
    target: previous,
  });
  // No checkpoint of its own where one was owed (the boot-check did not run): said on the record, whatever the way back.
  const lost = await lostCheckpoint(run);
  if (plan.action === 'refuse')
    return failRollback(run, supervisor, {
      why: `not going back to ${previous}: ${plan.detail}${lost ? ` (${lost})` : ''}`,
      hint: lost
        ? `${plan.hint} ${tx.to} stays current, not stopped by the way back. ${bootCheckHint(session.config)}`
        : plan.hint,
    });
  // The previous release's own judgement of the state it would start with (the checkpoint's, when one goes back), as
  // every activation has it: a release that cannot read that state is not started on it; the failed one stays.
  const checkpoint = plan.action === 'restore' ? plan.snapshot : undefined;
  const refused = await judgeWayBack(run, previous, checkpoint);
  if (refused) return failRollback(run, supervisor, refused);
  // A switch's own request (a rollback with a restore) is not for the way back.
  setFields(tx, { restore: checkpoint ? { snapshot: checkpoint, version: previous } : undefined });
  if (plan.action === 'keep') noteStep(tx, 'restore-state', 'skipped', plan.detail);
  if (plan.action === 'none' && lost)
    noteStep(
      tx,
      'restore-state',
      'skipped',
      `nothing to put back: ${lost}; ${previous} starts on the state as ${tx.to} left it, with whatever ${tx.to} changed in it (a migration included)`,
    );
  try {
    await runStep({ journal, tx }, 'rollback', async (step) => {
      const moved = await pointRuntime(session, tx, 'from'); // the Node it ran on, with it
      await flipBack(layout, { current: previous, previous: tx.before?.previous ?? null });
      step.note({ detail: `${failure.detail}; current -> releases/${previous}${moved}` });
    });
  } catch (error) {
    if (cancelled(error)) throw error; // left rolling back, for recovery to resume
    return failRollback(run, supervisor, { why: `could not flip back to ${previous}: ${(error as Error).message}` });
  }
  await journal.commit('rollback:flipped');
  return restartPrevious(run, supervisor, previous);
}

/**
 * `database-preflight-previous`: what refuses the way back (the step failed with the verdicts; nothing flipped: the
 * failed release stays current and whatever it serves goes on), or undefined. A check that could not run at all
 * refuses too: going back blind is how an older release meets state it cannot read.
 */
async function judgeWayBack(
  run: Run,
  previous: string,
  checkpoint: string | undefined,
): Promise<FailRollbackOptions | undefined> {
  const { session, tx } = run;
  const { judgeStep } = await import('./database-preflight-step.js');
  let refused: { message: string; hint: string } | undefined;
  try {
    refused = await judgeStep(session, tx, {
      name: 'database-preflight-previous',
      target: previous,
      checkpoint,
      wayBack: true,
    });
  } catch (error) {
    if (cancelled(error)) throw error; // left rolling back, for recovery to resume
    refused = { message: `its database preflight could not run (${(error as Error).message})`, hint: '' };
  }
  if (!refused) return undefined;
  return {
    why: `not going back to ${previous}: ${refused.message}`,
    hint: [
      `${tx.to} stays current and was not stopped by the way back; ${previous} was not started.`,
      refused.hint,
      `Look at ${tx.to} (release-switcher status), then switch to a release that can read this state.`,
    ]
      .filter(Boolean)
      .join(' '),
  };
}

/** restart-previous → verify-previous: the release brought back must run and be healthy. */
async function restartPrevious(run: Run, supervisor: Supervisor, previous: string): Promise<Transaction> {
  const { session, tx } = run;
  const restoring = await beginRestore(session, tx);
  let baseline: Awaited<ReturnType<typeof restartStep>>;
  try {
    baseline = await restartStep(run, supervisor, 'restart-previous');
  } catch (error) {
    await endRestore(session, tx, restoring);
    if (cancelled(error)) throw error; // left rolling back, for recovery to resume
    return failRollback(run, supervisor, {
      why: `restarting ${previous} failed: ${(error as Error).message}`,
      // Refused by sudo or polkit: what to allow comes first, the service may be down all the same.
      ...(isRefusal(error) && { hint: `${error.hint} ${wayBackHint(run, supervisor)}` }),
    });
  }
  try {
    // A restore the boot-check began and was cut: one more restart, whose boot-check finishes it.
    const again = () => restartStep(run, supervisor, 'restart-previous');
    baseline = (await endRestore(session, tx, restoring, again)) ?? baseline;
  } catch (error) {
    return failRollback(run, supervisor, { why: `restarting ${previous} failed: ${(error as Error).message}` });
  }
  crashPoint('rollback:restarted');
  const result = await verifyStep(run, supervisor, { name: 'verify-previous', version: previous, baseline });
  if (!result.ok) return failRollback(run, supervisor, { why: `${previous} did not come back: ${result.detail}` });
  markGood(session.journal.state.releases[previous], { overrideBad: false });
  recordRanOn(session, tx, previous, 'from');
  return finish(run, 'rolled_back');
}

export interface FailRollbackOptions {
  /** What stopped the way back: the failed step's detail. */
  why: string;
  /** What the operator should do. @default look at the service, then switch to a known-good release by hand */
  hint?: string | undefined;
}

async function failRollback(run: Run, supervisor: Supervisor, options: FailRollbackOptions): Promise<Transaction> {
  noteStep(run.tx, 'rollback', 'failed', options.why);
  setFields(run.tx, { hint: options.hint ?? wayBackHint(run, supervisor) });
  return finish(run, 'rollback_failed');
}

function wayBackHint(run: Run, supervisor: Supervisor): string {
  const root = run.session.layout.root;
  const scope =
    supervisor.name === 'systemd'
      ? 'systemctl --user'
      : supervisor.name === 'systemd-system'
        ? 'systemctl'
        : supervisor.name;
  return `The service may be down. Look at it (${scope} status ${supervisor.unit}), then bring a known-good release back by hand: release-switcher --root ${root} list, then release-switcher --root ${root} switch VERSION.`;
}

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
  const { discardStagedCheckpoint } = await import('../snapshot/snapshot.js');
  await discardStagedCheckpoint(layout, tx.id).catch(() => undefined);
  if (!tx.restore) return;
  const swap = await import('../snapshot/swap-record.js');
  const record = await swap.readSwapRecord(layout, tx.restore.snapshot, tx.id, { complete: false });
  if (!record) return;
  const identity = await (await import('./service-identity.js')).serviceIdentity(session).catch(() => undefined);
  if (!identity) return; // whom to remove it as is unknown: recovery sweeps it
  await (await import('../snapshot/swap.js')).discardSwap(layout, record, identity.runAs).catch(() => undefined);
}
