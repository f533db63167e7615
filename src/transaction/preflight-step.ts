/**
 * The `preflight` step of a transaction (the driver calls it before a flip, a rollback's included,
 * unless `--no-preflight`): rehearse the candidate privately; on failure mark it bad and refuse with
 * PREFLIGHT_FAILED, `current` and the running service untouched. The rehearsal's record (transient unit
 * or process group, private dir) is journaled in the step before it starts, for recovery.
 * One return needs no rehearsal (preflight-wanted.ts knownGoodReturn): the driver does not call it then. An update whose
 * target already started and held on its finalized copy, ahead, was rehearsed there (rehearsed-ahead.ts): recorded.
 */
import path from 'node:path';
import { ReleaseSwitcherError, asDiskFull, isReleaseSwitcherError } from '../model/errors.js';
import type { Transaction } from '../model/state.js';
import { crashPoint } from '../platform/crashpoint.js';
import { probeNode } from '../platform/node.js';
import { nodeFor } from './runtime.js';
import {
  cleanupPreflight,
  type PreflightIsolation,
  type PreflightRecord,
  type PreflightResult,
  runPreflight,
} from '../rehearsal/preflight.js';
import { PORT_TRIES } from '../rehearsal/rehearsal-port.js';
import { copySnapshotPrivately, copyStatePrivately } from '../snapshot/private-copy.js';
import { statePathsBase } from '../snapshot/state-paths.js';
import { resolveStateAs } from '../snapshot/state-side.js';
import { markBad, runStep } from './record.js';
import { candidateEnvOf } from './candidate-env.js';
import { serviceIdentity } from './service-identity.js';
import { preflightWanted } from './preflight-wanted.js';
import { rehearsedAhead } from './rehearsed-ahead.js';
import type { JournalSession } from '../store/session.js';
import { startedWhenFor } from '../presets/index.js';

export async function preflightStep(session: JournalSession, tx: Transaction, target: string): Promise<void> {
  const { config, journal, layout, runtime } = session;
  if (!preflightWanted(config)) return;
  // The target's first start ahead, on the finalized copy and held as long as this would hold, is its rehearsal.
  const first = rehearsedAhead(config, tx);
  if (first?.ok)
    return void (await runStep({ journal, tx }, 'preflight', async (step) =>
      step.note({
        evidence: { by: 'first-start-ahead', firstStart: first },
        detail: `rehearsed by ${target}'s first start ahead, on the finalized copy at the live path (the finalize-ahead step): healthy after ${first.healthyAfterMs} ms on 127.0.0.1:${first.port}, held ${first.heldMs / 1000} s`,
      }),
    ));
  const isolation: PreflightIsolation =
    config.supervisor === 'systemd' || config.supervisor === 'systemd-system'
      ? { kind: 'systemd', scope: config.supervisor === 'systemd' ? 'user' : 'system' }
      : { kind: 'group' };
  const result = await runStep({ journal, tx }, 'preflight', async (step): Promise<PreflightResult> => {
    // It failed there by its own fault: that is the rehearsal's verdict, recorded as a rehearsal's, no second start.
    if (first) {
      const { detail, probes, lastHttpStatus, lastVersion } = first.verdict;
      const failed: PreflightResult = {
        ok: false,
        reason: first.reason!,
        detail,
        probes,
        lastHttpStatus,
        lastVersion,
        port: first.port,
        ms: first.ms,
        outputTail: first.outputTail ?? '',
      };
      step.note({ evidence: { by: 'first-start-ahead', ...failed }, detail: `${failed.reason}: ${detail}` });
      step.fail();
      return failed;
    }
    // A configured Node that no longer runs (removed or moved since the install) is the environment's fault: the
    // candidate would "crash" at its first instruction and be marked bad for it. NODE_NOT_FOUND says what to fix.
    const node = nodeFor(session, tx, 'to'); // the Node it will run on, when the service moves with it
    if (config.node || tx.runtime) await probeNode(node, runtime.env, runtime.signal);
    // The state as the service finds it, not as we would; read with its account's rights (snapshot/state-side.ts).
    const { env: serviceEnv, runAs } = await serviceIdentity(session);
    const { paths, skip } = await resolveStateAs(runAs, { ...config, env: serviceEnv });
    const candidate = await candidateEnvOf(session);
    // Finalize ran ahead (the step before): the candidate starts on that finalized state, as its real start will.
    // lazy: finalize ahead's record only for a rehearsal that may follow it
    const ahead = tx.restore ? undefined : await import('./finalize-ahead-record.js');
    const finalized = await ahead?.finalizedCopy(session, tx);
    const outcome = await runPreflight({
      node,
      args: config.preflight!,
      env: config.preflightEnv,
      configFile: config.preflightConfig,
      prepare: config.preflightPrepare,
      baseEnv: candidate.env,
      callerEnv: runtime.env,
      releaseDir: path.join(layout.root, 'releases', target),
      expectedVersion: target,
      healthUrl: config.healthUrl!,
      versionField: config.versionField,
      startedWhen: startedWhenFor(config),
      verifyTimeoutMs: config.verifyTimeout * 1000,
      holdMs: config.preflightFor * 1000,
      // The state the target will start on: a snapshot check-state plans to put back (a rollback across
      // a migration), else the live state.
      copyState: (dir) => {
        const base = statePathsBase(config.statePaths, serviceEnv);
        const copy =
          tx.restore && tx.restore.version === target
            ? copySnapshotPrivately(layout, tx.restore.snapshot, dir, { base, residue: config.residue, as: runAs })
            : finalized
              ? // The finalized copy as it stands (ours and residue already left out of it)
                copyStatePrivately([finalized.ready], dir, {
                  base: finalized.ready,
                  sqliteNodes: [config.node, process.execPath],
                  as: runAs,
                })
              : copyStatePrivately(paths, dir, {
                  base,
                  residue: config.residue,
                  sqliteNodes: [config.node, process.execPath],
                  skip, // inside a state path too (install-cli.sh's Node and package in ~/.openclaw/tools)
                  as: runAs,
                });
        return copy.catch((error: unknown) => {
          throw asStateCopyFailed(error);
        });
      },
      ...(finalized && {
        seenAt: { live: finalized.live, privateFolders: finalized.privateFolders, kept: finalized.kept },
      }),
      workRoot: layout.preflight,
      isolation,
      onRecord: async (record) => {
        step.note({ evidence: { record } });
        await journal.commit();
      },
      // The candidate runs: a kill here leaves its unit or process group and the private copy for recovery.
      onStarted: () => crashPoint('activate:preflight-running'),
      ...(runtime.signal && { signal: runtime.signal }),
      onProbe: (message) => runtime.onProgress({ phase: 'preflight', message }),
      as: candidate.as, // the service's account when root acts for it: never root
    });
    const { outputTail, ...rest } = outcome;
    step.note({
      evidence: {
        ...rest,
        environment: candidate.from,
        // The state it started on: a copy of finalize's result, seen at the live path (finalize ran ahead).
        ...(finalized && { finalized: { copy: finalized.ready, seenAt: finalized.live } }),
        outputTail,
      },
      detail: `${
        outcome.ok
          ? `rehearsed on 127.0.0.1:${outcome.port}: ${outcome.detail}`
          : `${runtime.signal?.aborted ? 'cancelled before its verdict: ' : ''}${outcome.reason}: ${outcome.detail}`
      }${outcome.portsTaken ? ` (after ${outcome.portsTaken.length} port(s) held by another process: ${outcome.portsTaken.join('; ')})` : ''}`,
    });
    if (!outcome.ok) step.fail();
    return outcome;
  });
  if (result.ok) return;
  // Aborted (a signal stops the candidate with the caller's other subprocesses): no verdict on the candidate.
  if (runtime.signal?.aborted)
    throw new ReleaseSwitcherError(
      'CANCELLED',
      `${target}'s rehearsal was cancelled before its verdict; nothing was flipped or restarted, and ${target} is not marked bad.`,
      { hint: 'Run the switch or update again.', cause: runtime.signal.reason },
    );
  if (result.environment) throw environmentRefusal(target, result, layout.preflight);
  // A prepare step that fails says nothing about the candidate: refused, not marked bad.
  if (result.reason !== 'prepare_failed') markBad(journal, target, `preflight: ${result.reason}: ${result.detail}`);
  throw new ReleaseSwitcherError(
    'PREFLIGHT_FAILED',
    `${target} failed its rehearsal (${result.reason}): ${result.detail}`,
    {
      hint: `Nothing was flipped or restarted. Its output:\n${result.outputTail}`,
    },
  );
}

/** A rehearsal the environment made fail (rehearsal/environment.ts): the candidate is not marked bad; what to fix. */
function environmentRefusal(target: string, result: PreflightResult, workRoot: string): ReleaseSwitcherError {
  const message = `${target} could not be rehearsed: ${result.detail}. ${target} is not marked bad.`;
  const again = 'then run the update again. Nothing was flipped or restarted.';
  if (result.reason === 'disk_full')
    return new ReleaseSwitcherError('DISK_FULL', message, {
      hint: `Free space on the filesystem of ${workRoot} (release-switcher prune removes old releases and their checkpoints), ${again}`,
    });
  if (result.reason === 'port_taken')
    return new ReleaseSwitcherError('PORT_TAKEN', message, {
      hint: `Stop what holds the port (the message names its owner; ss -ltnp too), or change the rehearsal's command (release-switcher init --preflight), ${again} A port of the rehearsal's own ({port}) is tried ${PORT_TRIES} times, each a new one: another account that takes every one of them is acting against this host's users.`,
    });
  return new ReleaseSwitcherError('STATE_OWNED', message, {
    hint: `Something in the private copy names the live service as its owner: add its file to the residue (config.json "residue"), or clear it in the prepare step (release-switcher init --preflight-prepare), ${again} Its output:\n${result.outputTail}`,
  });
}

/**
 * A private copy that could not be made says nothing about the candidate (the environment refused: a
 * disk, a permission, a database SQLite cannot read): STATE_COPY_FAILED, the candidate not marked bad.
 */
function asStateCopyFailed(error: unknown): ReleaseSwitcherError {
  if (isReleaseSwitcherError(error) && error.code !== 'INTERNAL') return error;
  const full = asDiskFull(error, "making the rehearsal's private copy of the state");
  if (isReleaseSwitcherError(full))
    return new ReleaseSwitcherError('DISK_FULL', `${full.message} The candidate is not marked bad.`, {
      hint: 'Free space where the root lives (release-switcher prune removes old releases and their checkpoints), then run the update again. Nothing was flipped or restarted.',
      cause: error,
    });
  return new ReleaseSwitcherError(
    'STATE_COPY_FAILED',
    `The rehearsal's private copy of the state could not be made: ${(error as Error).message}`,
    {
      hint: 'Fix what the message names (space, permissions of the state paths), then run the update again.',
      cause: error,
    },
  );
}

/**
 * For recovery: end a rehearsal a killed switcher left behind (the running `preflight` step's record). Its folder is
 * derived from `workRoot` (the layout's `preflight`, where rehearsals keep their private folders), never from the record.
 */
export async function recoverPreflight(tx: Transaction, env: NodeJS.ProcessEnv, workRoot: string): Promise<boolean> {
  const step = tx.steps.find((s) => s.name === 'preflight' && s.status === 'running');
  const record = (step?.evidence as { record?: PreflightRecord } | undefined)?.record;
  if (!record) return false;
  await cleanupPreflight(record, { callerEnv: env, workRoot });
  return true;
}
