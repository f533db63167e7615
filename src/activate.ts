/**
 * Activating a release: the transaction behind `switch` and `rollback`. Verify the sealed release,
 * flip `previous` then `current` (each a rename), then hand over to the supervisor. The flip is kept
 * apart from the restart so that supervisors plug in after it; with supervisor `none` the
 * transaction ends `switched` and restarting is the operator's job.
 */
import { ReleaseSwitcherError } from './errors.js';
import { crashPoint } from './crashpoint.js';
import { type Transaction, type TransactionKind, newId, runStep } from './journal.js';
import { pointLink, readLinkVersion } from './links.js';
import { verifyRelease } from './release.js';
import type { MutationSession } from './session.js';

export interface ActivateRequest {
  kind: TransactionKind;
  target: string;
}

export async function activate(session: MutationSession, request: ActivateRequest): Promise<Transaction> {
  const { layout, journal, runtime } = session;
  const current = await readLinkVersion(layout, 'current');
  const previous = await readLinkVersion(layout, 'previous');
  const tx: Transaction = {
    id: newId(),
    kind: request.kind,
    status: 'switching',
    from: current,
    to: request.target,
    reason: null,
    startedAt: new Date().toISOString(),
    finishedAt: null,
    steps: [],
    before: { current, previous },
  };
  if (current === request.target) {
    tx.status = 'up_to_date';
    tx.finishedAt = tx.startedAt;
    return tx;
  }
  if (!journal.state.releases[request.target]) {
    throw new ReleaseSwitcherError('RELEASE_NOT_FOUND', `Release ${request.target} is not installed.`, {
      hint: `Install it first (release-switcher install ${session.config.package}@${request.target}); see release-switcher list.`,
    });
  }
  journal.state.transaction = tx;
  await journal.commit('activate:begin');
  try {
    await runStep(journal, tx, 'verify-release', async (step) => {
      runtime.onProgress({ phase: 'verify-release', message: `re-hashing release ${request.target}` });
      const marker = await verifyRelease(layout, request.target);
      step.detail = `${marker.files.length} entries match the manifest`;
    });
    await journal.commit('activate:verified-release');
    await runStep(journal, tx, 'flip', async (step) => {
      if (current !== null) await pointLink(layout, 'previous', current);
      crashPoint('activate:previous-flipped');
      await pointLink(layout, 'current', request.target);
      crashPoint('activate:current-flipped');
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
  tx.steps.push({ name: 'restart', status: 'skipped', ms: 0, detail: 'supervisor none: restarting the service is the operator’s job' });
  tx.status = 'switched';
  tx.finishedAt = new Date().toISOString();
  journal.archiveTransaction();
  await journal.commit('activate:done');
  return tx;
}
