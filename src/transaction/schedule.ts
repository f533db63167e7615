/**
 * The switch phase of `update`, `switch` and `rollback`: carried out here, or, when the caller runs
 * inside the very service it is about to restart, journaled as `scheduled` and handed to a runner
 * outside it (the caller gets the transaction id at once; `status` shows the outcome later).
 */
import { activate } from './activate.js';
import {
  closeTransaction,
  enterTransaction,
  noteStep,
  openTransaction,
  setFields,
  since,
  transition,
} from './record.js';
import { ReleaseSwitcherError, isReleaseSwitcherError } from '../model/errors.js';
import { type Transaction, type TransactionKind, publicTransaction } from '../model/state.js';
import { readLinkVersion } from '../store/links.js';
import { type ProgressEvent, resolveRuntime } from '../model/runtime.js';
import { isInsideService, readOwnCgroup } from '../service/caller.js';
import { servicePreset } from '../presets/index.js';
import { type MutationSession, mutate } from './mutate.js';
import type { RootOptions } from '../store/session.js';
import { originOf } from './origin.js';
import { type CallerOptions, type TransactionOptions, transactionOptions } from './options.js';

/** How a caller asks for a switch phase: where it runs, and the transaction's options (options.ts). */
export interface HandoffOptions extends CallerOptions {
  /**
   * Where the switch runs: `auto` hands it to a runner outside the service when the caller is inside
   * the service being switched; `always` and `never` force either. @default "auto"
   */
  handoff?: 'auto' | 'always' | 'never';
}

export type Plan = { tx: Transaction; launch: boolean };

/** What to switch to, how, and the transaction's options, read once (transact) and journaled as they are. */
interface Request {
  kind: TransactionKind;
  target: string;
  /** A release a runner stages first (update from inside the service). */
  spec?: string;
  handoff?: HandoffOptions['handoff'];
  options: TransactionOptions;
}

/** The version to switch to, or (`spec`) one a runner stages first because it is not installed yet. */
export type Target = string | { version: string; spec: string };

/** One switch phase, as a verb asks for it: the lock's name, the kind, and how the target is found. */
export interface TransactRequest {
  kind: TransactionKind;
  /** @default "auto" (HandoffOptions) */
  handoff?: HandoffOptions['handoff'];
  /** The caller's options this verb honours (options.ts callerOptions). */
  options: CallerOptions;
  /** The lock's command line (status shows who holds the root). */
  command: string;
  /** Under the lock, before anything is decided: the target (update installs it here). */
  target: (session: MutationSession) => Promise<Target>;
  /** Activating what is installed needs nothing from the network: a holder that is only staging gives way. @default false */
  overStaging?: boolean;
  /** Once the target is found: the channel it came from, when it came from one (recorded on the transaction). */
  channel?: () => Transaction['channel'];
}

/**
 * The one entry of a switch phase: under the lock find the target, then activate now or journal the
 * transaction as scheduled; with the lock released, launch the runner when it was scheduled.
 */
export async function transact(options: RootOptions, request: TransactRequest): Promise<Transaction> {
  const { kind, handoff } = request;
  let config!: MutationSession['config'];
  const { tx, launch } = await mutate(
    options,
    request.command,
    async (session) => {
      config = session.config;
      const target = await request.target(session);
      const channel = request.channel?.();
      const origin = originOf(options.origin, { why: channel ? 'channel' : 'requested', detail: request.command });
      // The transaction's options, read here once: what is journaled is what runs, here or in a runner.
      const txOptions = transactionOptions({ ...request.options, channel, origin });
      if (typeof target !== 'string')
        return schedule(session, { kind, target: target.version, spec: target.spec, options: txOptions });
      return activateOrSchedule(session, { kind, target, handoff, options: txOptions });
    },
    { overStaging: request.overStaging === true },
  );
  if (!launch) return publicTransaction(tx)!;
  try {
    const { launchRunner } = await import('./handoff.js'); // lazy: only a handed-off transaction spawns a runner
    const { env, cliPath, execPath, signal } = resolveRuntime(options);
    const how = await launchRunner({ config, root: options.root, txId: tx.id, env, cliPath, execPath, signal });
    noteStep(tx, 'handoff', 'ok', `handed to ${how}`);
    return publicTransaction(tx)!;
  } catch (error) {
    await mutate(
      options,
      'handoff failed',
      async ({ journal }) => {
        const journaled = journal.state.transaction;
        if (journaled?.id !== tx.id || journaled.status !== 'scheduled') return;
        noteStep(journaled, 'handoff', 'failed', (error as Error).message);
        closeTransaction(journal, journaled, { status: 'failed', reason: 'runner_never_ran' });
        await journal.commit();
        if (isReleaseSwitcherError(error)) error.result = publicTransaction(journaled);
      },
      { ownTransaction: tx.id },
    );
    throw error;
  }
}

/** Under the lock: activate now, or journal the transaction as scheduled for a runner. */
async function activateOrSchedule(session: MutationSession, request: Request): Promise<Plan> {
  const { kind, target, handoff = 'auto', options } = request;
  const { layout, config, journal, runtime } = session;
  const current = await readLinkVersion(layout, 'current');
  const outside =
    handoff === 'always' ||
    (handoff === 'auto' && isInsideService(config, runtime.env, readOwnCgroup(), servicePreset(config)?.unitVariable));
  const now = { kind, target, ...options };
  if (!outside || (current === target && !options.node) || config.supervisor === 'none')
    return { tx: await activate(session, now), launch: false };
  if (!journal.state.releases[target]) return { tx: await activate(session, now), launch: false }; // throws RELEASE_NOT_FOUND
  return schedule(session, request);
}

/** Journal a transaction as `scheduled` for a runner outside the service; `spec`: the runner stages it first. */
async function schedule(session: MutationSession, request: Request): Promise<Plan> {
  const { layout, journal } = session;
  // Before anything is journaled: a rotation that fails schedules nothing.
  const { rotateRunnerLog } = await import('./handoff.js'); // lazy: only a handed-off transaction has a runner's log
  await rotateRunnerLog(layout);
  const current = await readLinkVersion(layout, 'current');
  const before = { current, previous: await readLinkVersion(layout, 'previous') };
  // The runner reads its orders (what to stage, whether to rehearse, …) from the journaled transaction.
  const tx = openTransaction({
    kind: request.kind,
    status: 'scheduled',
    from: current,
    to: request.target,
    before,
    ...request.options,
    spec: request.spec,
  });
  enterTransaction(journal, tx);
  await journal.commit();
  return { tx, launch: true };
}

/** The runner's side: carry out the scheduled transaction `id`, writing a heartbeat while it works. */
export async function runScheduled(options: RootOptions & { id: string }): Promise<Transaction> {
  return mutate(
    options,
    `run-transaction ${options.id}`,
    async (session) => {
      const tx = session.journal.state.transaction;
      if (!tx || tx.id !== options.id || tx.status !== 'scheduled' || !tx.to) {
        throw new ReleaseSwitcherError(
          'RELEASE_NOT_FOUND',
          `No scheduled transaction ${options.id} (it finished, or was declared runner_never_ran).`,
          {
            hint: 'See release-switcher status.',
          },
        );
      }
      const beat = async () => {
        setFields(tx, { heartbeatAt: new Date().toISOString() });
        await session.journal.commit().catch(() => undefined);
      };
      await beat();
      const timer = setInterval(() => void beat(), 2_000);
      try {
        if (tx.spec && !session.journal.state.releases[tx.to]) await stageFor(session, tx);
        return publicTransaction(
          // Its options are the journaled transaction's (activate.ts begin reads them there).
          await activate(session, { kind: tx.kind, target: tx.to, scheduled: tx }),
        )!;
      } catch (error) {
        await closeUnflipped(session, tx, error);
        throw error;
      } finally {
        clearInterval(timer);
      }
    },
    { ownTransaction: options.id },
  );
}

/**
 * A runner that fails before its flip closes its own transaction (`failed`, the error's code as the
 * reason): left `scheduled` with a heartbeat, it would hold the root busy until the heartbeat went stale.
 * After the flip, recovery finishes or undoes it.
 */
async function closeUnflipped(session: MutationSession, tx: Transaction, error: unknown): Promise<void> {
  const { journal } = session;
  if (
    journal.state.transaction !== tx ||
    !['scheduled', 'switching'].includes(tx.status) ||
    tx.steps.some((step) => step.name === 'flip')
  )
    return;
  closeTransaction(journal, tx, {
    status: 'failed',
    reason: isReleaseSwitcherError(error) ? error.code.toLowerCase() : 'error',
  });
  await journal.commit();
  if (isReleaseSwitcherError(error)) error.result ??= publicTransaction(tx);
}

/**
 * A runner that was handed an update before its release was staged stages it first, keeping the
 * latest progress in the transaction (for update.status). A failure here changed nothing: the
 * transaction ends `failed` with the error's code as its reason.
 */
async function stageFor(session: MutationSession, tx: Transaction): Promise<void> {
  const { journal, runtime } = session;
  transition(tx, 'staging');
  await journal.commit();
  let lastCommit = 0;
  const onProgress = (event: ProgressEvent) => {
    setFields(tx, { progress: { ...event, at: new Date().toISOString() } });
    if (Date.now() - lastCommit > 1_000) {
      lastCommit = Date.now();
      void journal.commit().catch(() => undefined);
    }
  };
  const started = performance.now();
  try {
    // lazy: switch and rollback go through this module and never stage (pacote, arborist, tar)
    const { installLocked } = await import('../stage/install.js');
    const installed = await installLocked({ ...session, runtime: { ...runtime, onProgress } }, tx.spec!, undefined, {
      node: tx.node,
    });
    noteStep(tx, 'stage', 'ok', `${installed.version} installed at ${installed.path}`, since(started));
    transition(tx, 'scheduled');
  } catch (error) {
    noteStep(tx, 'stage', 'failed', (error as Error).message, since(started));
    closeTransaction(journal, tx, {
      status: 'failed',
      reason: isReleaseSwitcherError(error) ? error.code.toLowerCase() : 'error',
    });
    await journal.commit();
    if (isReleaseSwitcherError(error)) error.result = publicTransaction(tx);
    throw error;
  }
}
