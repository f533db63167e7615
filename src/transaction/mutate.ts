/** Every mutation: the root's lock, the journal, and recovery of whatever an earlier run left, first. */
import { makePrivateDir } from '../platform/fs.js';
import { prepareReleasesDir } from '../store/releases-dir.js';
import { Journal, type ReleaseLedger } from '../store/journal.js';
import { ledgerOf } from './record.js';
import { withLock } from '../store/lock.js';
import { type RecoverOptions, type RecoveryReport, recoverRoot } from './recover.js';
import { type JournalSession, type RootOptions, openSession } from '../store/session.js';

/** A session holding the lock and the journal, after recovery ran; `ledger`: how staging records a release. */
export interface MutationSession extends JournalSession {
  recovery: RecoveryReport;
  ledger: ReleaseLedger;
}

/** Run `action` holding the root's lock, after recovering whatever an earlier run left. */
export interface MutateOptions extends RecoverOptions {
  /** An activation of an installed release: a holder that is only staging gives way to it. @default false */
  overStaging?: boolean;
}

export async function mutate<T>(
  options: RootOptions,
  command: string,
  action: (session: MutationSession) => Promise<T>,
  mutateOptions: MutateOptions = {},
): Promise<T> {
  const { overStaging = false, ...recoverOptions } = mutateOptions;
  const session = await openSession(options, 'mutate');
  const { layout, runtime } = session;
  await prepareReleasesDir(layout, session.config);
  await makePrivateDir(layout.staging);
  return withLock(layout.root, { command, waitSeconds: runtime.waitSeconds, overStaging }, async () => {
    const journal = await Journal.open(layout.root);
    const recovery = await recoverRoot({ ...session, journal }, recoverOptions);
    return action({ ...session, journal, recovery, ledger: ledgerOf(journal) });
  });
}
