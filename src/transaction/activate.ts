/**
 * Activating a release: the transaction behind `switch`, `rollback` and `update`. Verify the sealed
 * release, flip `previous` then `current` (each a rename), then restart through the supervisor and
 * verify the new process; when anything after the flip fails, mark the release bad, flip back,
 * restart and verify the previous one. With supervisor `none` the transaction ends `switched`.
 */
import fs from 'node:fs/promises';
import { ReleaseSwitcherError, isReleaseSwitcherError } from '../model/errors.js';
import { crashPoint } from '../platform/crashpoint.js';
import { runStep } from '../store/journal.js';
import { closeTransaction, markPending, openTransaction, transition } from './machine.js';
import type { Transaction, TransactionKind } from '../model/state.js';
import { pointLink, readLinkVersion } from '../store/links.js';
import { type ProvenInodes, proveWayBack, verifyReleaseFast } from '../store/release.js';
import type { MutationSession } from './mutate.js';
import { settleAfterFlip } from './settle.js';
import { checkStateStep } from './state-return.js';
import { preflightStep } from './preflight-step.js';
import { supervisorFor } from '../service/supervisors/index.js';
import type { Supervisor } from '../service/supervisors/types.js';

export interface ActivateRequest {
  kind: TransactionKind;
  target: string;
  /** A transaction already journaled (status `scheduled`) that a runner now carries out. */
  scheduled?: Transaction;
  /** The supervisor to drive instead of the configured one's adapter (tests drive a fake). */
  supervisor?: Supervisor | null;
  /** false: skip the rehearsal (`--no-preflight`). @default true */
  preflight?: boolean;
}


export async function activate(session: MutationSession, request: ActivateRequest): Promise<Transaction> {
  const { layout, journal, runtime, config } = session;
  const current = await readLinkVersion(layout, 'current');
  const previous = await readLinkVersion(layout, 'previous');
  const tx = request.scheduled ?? openTransaction({ kind: request.kind, status: 'switching', from: current, to: request.target });
  if (request.scheduled) transition(tx, 'switching');
  tx.from = current;
  tx.before = { current, previous };
  if (current === request.target) {
    closeTransaction(journal, tx, 'up_to_date');
    if (request.scheduled) await journal.commit();
    return tx;
  }
  if (!journal.state.releases[request.target]) {
    throw new ReleaseSwitcherError('RELEASE_NOT_FOUND', `Release ${request.target} is not installed.`, {
      hint: `Install it first (release-switcher install ${config.package}@${request.target}); see release-switcher list.`,
    });
  }
  const supervisor = request.supervisor !== undefined ? request.supervisor : supervisorFor(config, runtime.env);
  journal.state.transaction = tx;
  await journal.commit('activate:begin');
  try {
    await runStep(journal, tx, 'verify-release', async (step) => {
      runtime.onProgress({ phase: 'verify-release', message: `checking release ${request.target} against its manifest` });
      // Stat fingerprints, re-hashing only what moved; the release being left is proven too, so an
      // automatic rollback's flip-back finds it checked and costs no hashing while nothing serves.
      // Inodes the two releases share (dedupe links) are looked at once, for the target.
      const proven: ProvenInodes = new Map();
      const marker = await verifyReleaseFast(layout, request.target, proven);
      const back = await proveWayBack(layout, current, proven);
      const wayBack = !back ? '' : back.proven ? `; way back ${back.version} proven` : `; way back ${back.version} NOT proven (${(back.error as Error).message})`;
      step.detail = `${marker.files.length} entries match the manifest${wayBack}`;
    });
    await checkStateStep(session, tx, { leaving: current, target: request.target, supervised: supervisor !== null });
    await journal.commit('activate:verified-release');
    // --- preflight (issue 11): rehearse the candidate privately before the flip; the driver rewrite moves this. ---
    if (request.preflight !== false) await preflightStep(session, tx, request.target);
    // --- end preflight ---
    await runStep(journal, tx, 'flip', async (step) => {
      if (current !== null) await pointLink(layout, 'previous', current);
      crashPoint('activate:previous-flipped');
      await pointLink(layout, 'current', request.target);
      crashPoint('activate:current-flipped');
      await fs.rm(layout.bootTries, { force: true }); // a new pending release starts with a fresh count
      step.detail = `current -> releases/${request.target}${current ? `, previous -> releases/${current}` : ''}`;
      runtime.onProgress({ phase: 'flip', message: step.detail });
    });
  } catch (error) {
    closeTransaction(journal, tx, 'failed', isReleaseSwitcherError(error) ? error.code.toLowerCase() : 'error');
    await journal.commit();
    if (isReleaseSwitcherError(error)) error.result = tx;
    throw error;
  }
  markPending(journal.state.releases[request.target]);
  if (!supervisor) {
    tx.steps.push({ name: 'restart', status: 'skipped', ms: 0, detail: 'supervisor none: restarting the service is the operator’s job' });
    closeTransaction(journal, tx, 'switched');
    await journal.commit('activate:done');
    return tx;
  }
  await settleAfterFlip(session, tx, supervisor);
  return tx;
}
