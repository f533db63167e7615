/**
 * Activating a release: the transaction behind `switch`, `rollback` and `update`. Verify the sealed
 * release, flip `previous` then `current` (each a rename), then restart through the supervisor and
 * verify the new process; when anything after the flip fails, mark the release bad, flip back,
 * restart and verify the previous one. With supervisor `none` the transaction ends `switched`.
 */
import fs from 'node:fs/promises';
import { ReleaseSwitcherError } from '../model/errors.js';
import { crashPoint } from '../platform/crashpoint.js';
import { newId, runStep } from '../store/journal.js';
import type { Transaction, TransactionKind } from '../model/state.js';
import { pointLink, readLinkVersion } from '../store/links.js';
import { verifyRelease } from '../store/release.js';
import type { MutationSession } from './mutate.js';
import { settleAfterFlip } from './settle.js';
import { checkStateStep } from './state-return.js';
import { preflightStep } from './preflight-step.js';
import { supervisorFor } from '../service/supervisors/index.js';

export interface ActivateRequest {
  kind: TransactionKind;
  target: string;
  /** A transaction already journaled (status `scheduled`) that a runner now carries out. */
  scheduled?: Transaction;
  /** false: skip the rehearsal (`--no-preflight`). @default true */
  preflight?: boolean;
}

export function newTransaction(kind: TransactionKind, from: string | null, to: string, before: Transaction['before']): Transaction {
  return { id: newId(), kind, status: 'switching', from, to, reason: null, startedAt: new Date().toISOString(), finishedAt: null, steps: [], before };
}

export async function activate(session: MutationSession, request: ActivateRequest): Promise<Transaction> {
  const { layout, journal, runtime, config } = session;
  const current = await readLinkVersion(layout, 'current');
  const previous = await readLinkVersion(layout, 'previous');
  const tx = request.scheduled ?? newTransaction(request.kind, current, request.target, { current, previous });
  tx.status = 'switching';
  tx.from = current;
  tx.before = { current, previous };
  if (current === request.target) {
    tx.status = 'up_to_date';
    tx.finishedAt = new Date().toISOString();
    if (request.scheduled) journal.archiveTransaction();
    if (request.scheduled) await journal.commit();
    return tx;
  }
  if (!journal.state.releases[request.target]) {
    throw new ReleaseSwitcherError('RELEASE_NOT_FOUND', `Release ${request.target} is not installed.`, {
      hint: `Install it first (release-switcher install ${config.package}@${request.target}); see release-switcher list.`,
    });
  }
  const supervisor = supervisorFor(config, runtime.env);
  journal.state.transaction = tx;
  await journal.commit('activate:begin');
  try {
    await runStep(journal, tx, 'verify-release', async (step) => {
      runtime.onProgress({ phase: 'verify-release', message: `re-hashing release ${request.target}` });
      const marker = await verifyRelease(layout, request.target);
      step.detail = `${marker.files.length} entries match the manifest`;
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
    tx.status = 'failed';
    tx.reason = error instanceof ReleaseSwitcherError ? error.code.toLowerCase() : 'error';
    tx.finishedAt = new Date().toISOString();
    journal.archiveTransaction();
    await journal.commit();
    if (error instanceof ReleaseSwitcherError) error.result = tx;
    throw error;
  }
  const record = journal.state.releases[request.target];
  if (record && record.state === 'installed') record.state = 'pending';
  if (!supervisor) {
    tx.steps.push({ name: 'restart', status: 'skipped', ms: 0, detail: 'supervisor none: restarting the service is the operator’s job' });
    tx.status = 'switched';
    tx.finishedAt = new Date().toISOString();
    journal.archiveTransaction();
    await journal.commit('activate:done');
    return tx;
  }
  await settleAfterFlip(session, tx, supervisor);
  return tx;
}
