/**
 * Going back from one release to another when the service keeps state: which snapshot to put back,
 * or whether to refuse. One rule for every way back (`switch`/`rollback`, the automatic rollback after
 * a failed verification, the boot-check after a crash loop):
 * - the snapshot is the one taken when the release being left came in from the target;
 * - both releases declare the same schema (`schemaField`): the state is kept, nothing is lost;
 * - otherwise that snapshot, when there is one, is put back before the target starts;
 * - with none, a target whose declared schema is not at least the current one would refuse to start
 *   (openclaw exits 78), so going back is refused instead of leaving the service down.
 */
import path from 'node:path';
import type { Config } from '../store/config.js';
import { ReleaseSwitcherError } from '../model/errors.js';
import { readJsonIfExists } from '../platform/fs.js';
import { type StepHandle, beginStep, runStep, setFields } from './record.js';
import type { State, Transaction, TransactionStatus } from '../model/state.js';
import type { Layout } from '../store/layout.js';
import type { JournalSession } from '../store/session.js';
import type { SnapshotManifest } from '../snapshot/snapshot.js';
import type { ServiceState, Supervisor } from '../service/supervisors/types.js';
import { readLinkVersion } from '../store/links.js';
import { servicePreset, startedWhenFor } from '../presets/index.js';

/** Whose state it is (root acting for it works on it only as that account); loaded only where state is touched. */
const stateAccountOf = async (session: JournalSession) =>
  // lazy: whom the service runs as (its unit, /proc) only where state is touched
  (await (await import('./service-identity.js')).serviceIdentity(session)).runAs;

/** The snapshot store (with its copier): loaded by the activations that keep state, not by every one. */
const snapshots = () => import('../snapshot/snapshot.js'); // lazy: only the activations that keep state load it

export type StatePlan =
  | { action: 'none' }
  | { action: 'keep'; detail: string }
  | { action: 'restore'; snapshot: string; detail: string }
  | { action: 'refuse'; detail: string; hint: string };

export interface StateReturn {
  layout: Layout;
  config: Config;
  state: State;
  /** The release that runs (or ran) on the state now. */
  leaving: string;
  /** The release about to start on it. */
  target: string;
  /** A checkpoint the operator named (`--checkpoint`): put back instead of the rule's choice, when it is the target's. */
  requested?: string | undefined;
}

/** Statuses of a transaction after which its `to` is (or is becoming) what `current` names. */
const BROUGHT_IN: ReadonlySet<TransactionStatus> = new Set([
  'switching',
  'restarting',
  'verifying',
  'rolling_back',
  'verified',
  'switched',
  'rollback_failed',
]);

/** The transaction that made `version` current, latest first: the in-flight one, then history. */
function broughtIn(state: State, version: string): Transaction | undefined {
  for (const tx of [state.transaction, ...[...state.history].reverse()])
    if (tx && tx.to === version && BROUGHT_IN.has(tx.status)) return tx;
  return undefined;
}

/**
 * The state `target` left when `leaving` came in from it: the checkpoint taken before `leaving` first started. When
 * that arrival is the transaction in flight and it put a checkpoint back (a rollback whose release fails), the live
 * state it moved aside (`<tx>-aside`, swap.ts): the way back of that way back returns to the state as it was left.
 * Not for a later switch: by then the release brought back has run on its own state, which going forward migrates.
 */
async function snapshotForReturn(input: StateReturn): Promise<SnapshotManifest | undefined> {
  const tx = broughtIn(input.state, input.leaving);
  if (!tx || tx.from !== input.target) return undefined;
  const store = await snapshots();
  const taken = await store.readSnapshot(input.layout, tx.id);
  if (taken || tx.id !== input.state.transaction?.id) return taken;
  return (await store.listSnapshots(input.layout)).findLast(
    (s) => s.setAsideBy === tx.id && s.fromVersion === input.target,
  );
}

/** The value at a dot path of a release's package.json, or undefined. */
export async function readSchema(layout: Layout, version: string, field: string): Promise<unknown> {
  const pkg = await readJsonIfExists(path.join(layout.release(version), 'package.json')).catch(() => undefined);
  return field
    .split('.')
    .reduce<unknown>(
      (node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined),
      pkg,
    );
}

/** JSON with sorted keys, so `{state:18,agent:23}` equals `{agent:23,state:18}`. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

/** Whether `target` reads everything `leaving` wrote: every numeric schema of `leaving` is ≤ its own (a forward migration). */
export function schemaAtLeast(target: unknown, leaving: unknown): boolean {
  if (typeof target === 'number' && typeof leaving === 'number') return target >= leaving;
  if (
    target !== null &&
    leaving !== null &&
    typeof target === 'object' &&
    typeof leaving === 'object' &&
    !Array.isArray(target) &&
    !Array.isArray(leaving)
  ) {
    const t = target as Record<string, unknown>;
    return Object.entries(leaving).every(([key, value]) => key in t && schemaAtLeast(t[key], value));
  }
  return canonical(target) === canonical(leaving);
}

export async function planStateReturn(input: StateReturn): Promise<StatePlan> {
  const { config, leaving, target } = input;
  if (input.requested) return requestedCheckpoint(input, input.requested);
  if (config.statePaths.length === 0 && config.schemaField === null) return { action: 'none' };
  const snapshot = await snapshotForReturn(input);
  const field = config.schemaField;
  const [mine, theirs] = field
    ? await Promise.all([readSchema(input.layout, target, field), readSchema(input.layout, leaving, field)])
    : [undefined, undefined];
  const declared = mine !== undefined && theirs !== undefined;
  const schemas = declared ? ` (${field}: ${leaving} ${canonical(theirs)}, ${target} ${canonical(mine)})` : '';
  if (declared && canonical(mine) === canonical(theirs)) {
    return snapshot
      ? { action: 'keep', detail: `state kept: ${leaving} and ${target} declare the same schema ${canonical(mine)}` }
      : { action: 'none' };
  }
  if (snapshot) {
    return {
      action: 'restore',
      snapshot: snapshot.id,
      detail: `snapshot ${snapshot.id} (taken ${snapshot.takenAt}, before ${leaving} first started) goes back before ${target} starts${schemas}`,
    };
  }
  if (!declared || schemaAtLeast(mine, theirs)) return { action: 'none' };
  const backups = servicePreset(config)?.ownBackups;
  return {
    action: 'refuse',
    detail: `${target} cannot start on state that ${leaving} migrated${schemas}, and there is no state snapshot from before ${leaving} first started`,
    hint: `Stay on ${leaving}, or stop the service, put its state back from a backup of your own${backups ? ` (${backups})` : ''}, and switch again. Snapshots are taken by boot-check (the unit's ExecStartPre: release-switcher unit --install).`,
  };
}

/**
 * A checkpoint the operator named: put back when it holds the state the target left (one taken before a later release
 * first started, or what a rollback set aside); any other would start the target on another release's state.
 */
async function requestedCheckpoint(input: StateReturn, id: string): Promise<StatePlan> {
  const manifest = await (await snapshots()).readSnapshot(input.layout, id);
  if (!manifest) {
    throw new ReleaseSwitcherError(
      'STATE_SNAPSHOT_MISSING',
      `There is no checkpoint ${id} in ${input.layout.snapshots}.`,
      {
        hint: 'release-switcher checkpoints lists them, with the release whose state each holds.',
      },
    );
  }
  if (manifest.fromVersion !== input.target) {
    throw new ReleaseSwitcherError(
      'CHECKPOINT_MISMATCH',
      `Checkpoint ${id} holds the state ${manifest.fromVersion ?? 'no release'} left, not ${input.target}'s: ${input.target} would start on another release's state. Nothing was changed.`,
      {
        hint: `Name a checkpoint of ${input.target}'s state (release-switcher checkpoints), or switch to ${manifest.fromVersion ?? 'its release'} with it.`,
      },
    );
  }
  return {
    action: 'restore',
    snapshot: id,
    detail: `checkpoint ${id} (the state ${input.target} left, ${manifest.setAsideBy ? `set aside by ${manifest.setAsideBy}` : `taken ${manifest.takenAt}`}) goes back before ${input.target} starts, as asked (--checkpoint)`,
  };
}

/**
 * Before the flip of `switch`/`rollback`: refuse (STATE_SNAPSHOT_MISSING, nothing changed), or ask
 * the boot-check to put a snapshot back while the service is stopped for the restart.
 */
export async function checkStateStep(
  session: JournalSession,
  tx: Transaction,
  options: { leaving: string | null; target: string; supervised: boolean; checkpoint?: string },
): Promise<void> {
  const { layout, config, journal } = session;
  if (options.leaving === null) return;
  const plan = await planStateReturn({
    layout,
    config,
    state: journal.state,
    leaving: options.leaving,
    target: options.target,
    requested: options.checkpoint,
  });
  if (plan.action === 'none') return;
  if (plan.action === 'refuse') {
    await runStep({ journal, tx }, 'check-state', async (step) => step.fail(plan.detail));
    // The target's own check of the live databases, where the preset publishes one (openclaw's `database preflight`):
    // when it calls them incompatible that is the exact reason (DATABASE_INCOMPATIBLE, recorded as its step). When
    // it does not, or cannot judge, the declared schemas still refuse: it checks one database, they declare them all.
    // lazy: the database preflight (the state's walk, the release's own CLI) only for a refused way back
    await (await import('./database-preflight-step.js')).databasePreflightStep(session, tx, options.target);
    throw new ReleaseSwitcherError('STATE_SNAPSHOT_MISSING', `Not switching to ${options.target}: ${plan.detail}.`, {
      hint: plan.hint,
    });
  }
  await runStep({ journal, tx }, 'check-state', async (step) => {
    step.note({ detail: plan.detail });
    if (plan.action !== 'restore') return;
    if (options.supervised) setFields(tx, { restore: { snapshot: plan.snapshot, version: options.target } });
    else
      step.note({
        detail: `${plan.detail}; supervisor none: put ${layout.snapshot(plan.snapshot)} back by hand (its snapshot.json lists the paths) while the service is stopped`,
      });
  });
}

/** Before the restart that starts `tx.restore.version`: a step that stays running while the boot-check restores. */
export async function beginRestore(
  session: JournalSession,
  tx: Transaction,
  madeReady?: string,
): Promise<PendingRestore | undefined> {
  const request = tx.restore;
  const store = await snapshots();
  if (!request || (await store.restoredFor(session.layout, request.snapshot, tx.id))) return undefined;
  if (!session.config.supervisor.startsWith('systemd')) {
    const step = beginStep(
      tx,
      'restore-state',
      `release-switcher stops the service and puts snapshot ${request.snapshot} back before ${request.version} starts (no boot-check under ${session.config.supervisor})`,
    );
    await session.journal.commit();
    return { step, ready: await putBackStopped(session, tx, request) };
  }
  const ready = madeReady ?? (await readyForSwap(session, tx, request.snapshot));
  const step = beginStep(
    tx,
    'restore-state',
    `boot-check puts snapshot ${request.snapshot} back while the service is stopped, before ${request.version} starts; ${ready}`,
  );
  await session.journal.commit();
  return { step, ready };
}

/**
 * Where no boot-check runs before a start (pm2: nothing of ours runs between its stop and its start), the runner puts
 * the snapshot back itself, the service stopped through its supervisor first (one whose adapter can stop it: the
 * restart that follows starts it again). Never throws: what went wrong is the restore step's detail.
 */
async function putBackStopped(
  session: JournalSession,
  tx: Transaction,
  request: NonNullable<Transaction['restore']>,
): Promise<string> {
  const { config, layout, runtime } = session;
  try {
    // lazy: the adapter and the restore's copier only for a snapshot put back without a boot-check
    const { configuredSupervisor } = await import('./configured-supervisor.js');
    const supervisor = await configuredSupervisor(config, runtime.env, runtime.signal);
    if (!supervisor?.stop) return `${config.supervisor} cannot stop the service for it: not put back`;
    runtime.onProgress({
      phase: 'restart',
      message: `stopping ${supervisor.unit} to put snapshot ${request.snapshot} back before ${request.version} starts`,
    });
    await supervisor.stop();
    const { restoreForTransaction } = await import('../snapshot/boot-state.js'); // lazy: as above
    const as = await stateAccountOf(session);
    await restoreForTransaction(layout, request.snapshot, { tx: tx.id, version: request.version, as, by: 'runner' });
    return `${supervisor.unit} stopped (${config.supervisor}): copied back`;
  } catch (error) {
    if (runtime.signal?.aborted) throw error; // cancelled: left in flight for recovery, as any step after the flip
    return `not put back (${(error as Error).message})`;
  }
}

/**
 * Before the flip (stop-steps.ts prepareStep): the snapshot the transaction puts back made ready to swap in, and how
 * (beginRestore's detail); undefined when it puts none back, or it is put back already.
 */
export async function readyToRestore(session: JournalSession, tx: Transaction): Promise<string | undefined> {
  const request = tx.restore;
  if (!request || (await (await snapshots()).restoredFor(session.layout, request.snapshot, tx.id))) return undefined;
  return readyForSwap(session, tx, request.snapshot);
}

/**
 * While the old release serves: the checkpoint's folders copied ready inside the live ones, so the boot-check swaps
 * them in by rename (snapshot/swap.ts). Best effort: without it, the boot-check copies them back in the window.
 */
async function readyForSwap(session: JournalSession, tx: Transaction, id: string): Promise<string> {
  const { layout, config, runtime } = session;
  // Only a boot-check (a systemd unit's ExecStartPre) swaps: elsewhere nothing would, and the copy would stay behind.
  if (!config.supervisor.startsWith('systemd')) return 'copied back';
  const manifest = await (await snapshots()).readSnapshot(layout, id);
  if (!manifest) return 'the snapshot is missing';
  runtime.onProgress({ phase: 'restart', message: `making snapshot ${id} ready to swap in, before the stop` });
  try {
    // lazy: the swap's copier only when a snapshot is made ready to swap in
    const { prepareSwap } = await import('../snapshot/swap.js');
    const as = await stateAccountOf(session);
    const ready = await prepareSwap({ root: layout.root, snapshot: manifest, tx: tx.id, residue: config.residue, as });
    return ready
      ? `${ready.folders} folder(s) made ready before the stop (${ready.bytes} bytes, ${ready.ms} ms): swapped in by rename`
      : 'no folder to swap: copied back';
  } catch (error) {
    return `not made ready (${(error as Error).message}): copied back in the window`;
  }
}

export interface PendingRestore {
  step: StepHandle;
  /** How the checkpoint was made ready before the stop (or why not), for the step's closing detail. */
  ready: string;
}

/**
 * After that restart: did the boot-check do it? One whose restore was cut (its marker still there: kill -9 of the
 * boot-check, which the start does not wait for) left the release running on state half put back: `again` restarts
 * once more, and the next start's boot-check finishes it (boot-state.ts). Still not done: the step fails, and
 * `recover` (every mutation runs it) finishes it later (finishInterruptedRestore).
 */
export async function endRestore(
  session: JournalSession,
  tx: Transaction,
  pending: PendingRestore | undefined,
  again?: () => Promise<ServiceState>,
): Promise<ServiceState | undefined> {
  const request = tx.restore;
  if (!pending || !request) return undefined;
  const { step, ready } = pending;
  const store = await snapshots();
  let done = await store.restoredFor(session.layout, request.snapshot, tx.id);
  // Refused (a link where the state was, the account's rights): another start would be refused the same way.
  const refused = done ? undefined : await store.restoreFailure(session.layout, request.snapshot, tx.id);
  const cut = !done && !refused && (await store.unfinishedRestore(session.layout, request.snapshot)) !== undefined;
  let after: ServiceState | undefined;
  if (cut && again) {
    after = await again();
    done = await store.restoredFor(session.layout, request.snapshot, tx.id);
  }
  const retried = cut
    ? `the boot-check's restore was cut before it finished${again ? '; restarted once more' : ''}: `
    : '';
  const kept = done ? await keepLeftState(session, tx) : '';
  step.end(
    done ? 'ok' : 'failed',
    done
      ? `${retried}snapshot ${request.snapshot} put back by ${done.by} before ${request.version} started: ${done.restored?.join(', ') || 'nothing to write'}${done.removed?.length ? `; removed ${done.removed.join(', ')}` : ''}; ${ready}${kept}`
      : refused
        ? `snapshot ${request.snapshot} was not put back before ${request.version} started: the boot-check's restore failed (${refused.code}: ${refused.message}); fix that, then release-switcher recover puts it back`
        : cut
          ? `${retried}snapshot ${request.snapshot} is half put back; release-switcher recover restarts the service and its boot-check finishes it`
          : !session.config.supervisor.startsWith('systemd')
            ? `snapshot ${request.snapshot} was not put back before ${request.version} started: ${ready}; put ${session.layout.snapshot(request.snapshot)} back by hand (its snapshot.json lists the paths) while the service is stopped`
            : `snapshot ${request.snapshot} was not put back before ${request.version} started: the boot-check did not do it (is it the unit's ExecStartPre? release-switcher unit --install adds it; its output is in the unit's log)`,
  );
  await session.journal.commit();
  return after;
}

/**
 * After the start: the state the swap moved aside kept as checkpoint `<tx>-aside` (snapshot/swap.ts), recorded as the
 * transaction's `snapshot` when it has none of its own. Returns the words for the step's detail.
 */
async function keepLeftState(session: JournalSession, tx: Transaction): Promise<string> {
  const request = tx.restore;
  if (!request) return '';
  const store = await snapshots();
  const manifest = await store.readSnapshot(session.layout, request.snapshot);
  if (!manifest) return '';
  const leaving = request.version === tx.to ? tx.from : tx.to;
  try {
    // lazy: the swap's copier only when a put-back state is kept aside
    const id = await (await import('../snapshot/swap.js')).keepSetAside({
      root: session.layout.root,
      snapshot: manifest,
      tx: tx.id,
      fromVersion: leaving,
      toVersion: request.version,
      as: await stateAccountOf(session),
    });
    if (!id) return '';
    if (!tx.snapshot) setFields(tx, { snapshot: id });
    return `; the state ${leaving ?? 'it'} left is kept as checkpoint ${id}`;
  } catch (error) {
    return `; the state ${leaving ?? 'it'} left stays moved aside in its folder (${(error as Error).message}): release-switcher recover keeps it`;
  }
}

/**
 * Recovery's part for swaps (snapshot/swap.ts) whose transaction is no longer running: the state a finished swap moved
 * aside becomes its checkpoint (its runner died before it could); ready copies of a swap that never began (the
 * transaction ended before the stop) are removed from the state folder. A swap cut halfway is left to the restore's
 * own recovery (finishInterruptedRestore): its next run goes on from where it stood.
 */
export async function settleSwaps(session: JournalSession, actions: string[]): Promise<void> {
  const { layout, journal } = session;
  // lazy: the records only (no copier loaded): recovery runs before every mutation, and there is rarely one
  const swap = await import('../snapshot/swap-record.js');
  const records = (await swap.listSwapRecords(layout)).filter((r) => r.tx !== journal.state.transaction?.id);
  if (records.length === 0) return;
  const store = await snapshots();
  for (const record of records) {
    const tx = journal.state.history.find((t) => t.id === record.tx);
    const manifest = await store.readSnapshot(layout, record.snapshot);
    if (manifest && tx?.restore && (await store.restoredFor(layout, record.snapshot, record.tx))) {
      const words = await keepLeftState(session, tx);
      if (words) actions.push(`transaction ${tx.id}${words}`);
    } else if (!(await store.unfinishedRestore(layout, record.snapshot))) {
      // lazy: there is rarely a swap to discard
      await (await import('../snapshot/swap.js')).discardSwap(layout, record, await stateAccountOf(session));
      actions.push(
        `removed the ready copy of snapshot ${record.snapshot} made for transaction ${record.tx}, which ended before it was swapped in`,
      );
    }
  }
}

/**
 * Recovery's part: a restore cut for the release `current` names (its marker left in the snapshot; the transaction
 * that asked for it may be closed since) is finished by restarting the service: its boot-check puts the snapshot back
 * while the service is stopped. Nothing is loaded when there is no such marker (recovery runs before every mutation).
 */
export async function finishInterruptedRestore(
  session: JournalSession,
  supervisorOf: () => Promise<Supervisor | null>,
  actions: string[],
): Promise<boolean> {
  // lazy: recovery runs before every mutation, and there is rarely a restore cut to finish
  const { interruptedRestoreFor } = await import('../snapshot/restore-marker.js');
  const current = await readLinkVersion(session.layout, 'current');
  const cut = current && (await interruptedRestoreFor(session.layout, current, session.journal.state));
  if (!cut) return false;
  const supervisor = await supervisorOf();
  if (!supervisor) {
    actions.push(
      `snapshot ${cut.snapshot} is half put back for ${current}, and there is no supervisor to restart the service: stop it and run release-switcher boot-check, or put ${session.layout.snapshot(cut.snapshot)} back by hand`,
    );
    return false;
  }
  await supervisor.restart();
  const done = cut.tx && (await (await snapshots()).restoredFor(session.layout, cut.snapshot, cut.tx));
  const { serving, healthy } = await servingAfterRestart(session, supervisor, current);
  actions.push(
    done
      ? `finished the interrupted restore of snapshot ${cut.snapshot} for ${current}: restarted ${supervisor.unit}, its boot-check put it back; ${serving}`
      : `the restore of snapshot ${cut.snapshot} for ${current} is still unfinished after restarting ${supervisor.unit}: is the boot-check its ExecStartPre? (release-switcher unit --install)`,
  );
  return Boolean(done) && healthy;
}

/**
 * Whether the service now serves `current` on the state put back (the caller's transaction need not restart it again).
 * Recovery hands the root back serving, not merely restarted: the command that ran recovery (`recover`, `pin`, the
 * next switch) returns once the release answers its health check, as a switch's verify would wait for it (without
 * the stability window: nothing is judged here, the release was already the one running).
 */
async function servingAfterRestart(
  session: JournalSession,
  supervisor: Supervisor,
  version: string,
): Promise<{ serving: string; healthy: boolean }> {
  const { config, runtime } = session;
  if (!config.healthUrl) return { serving: 'no health URL to wait for', healthy: false };
  // lazy: the health probes only when the service is restarted on this path
  const { verifyRunning } = await import('../service/health.js');
  const result = await verifyRunning(
    {
      supervisor,
      healthUrl: config.healthUrl,
      versionField: config.versionField,
      startedWhen: startedWhenFor(config),
      expectedVersion: version,
      timeoutMs: config.verifyTimeout * 1000,
      stableMs: 0,
      signal: runtime.signal,
    },
    null,
  );
  return {
    serving: result.ok
      ? `${version} healthy after ${result.evidence.healthyAfterMs} ms`
      : `${version} is not healthy (${result.reason}: ${result.detail}): release-switcher doctor`,
    healthy: result.ok,
  };
}

/** Record on the transaction the snapshot the boot-check took for it (the boot-check itself cannot write the journal a runner holds). */
export async function noteSnapshot(session: JournalSession, tx: Transaction): Promise<void> {
  if (!tx.snapshot && (await (await snapshots()).readSnapshot(session.layout, tx.id)))
    setFields(tx, { snapshot: tx.id });
}
