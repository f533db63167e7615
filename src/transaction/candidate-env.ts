/**
 * The environment the target release's code is started with before it is trusted (the rehearsal, the database
 * check): the running service's own, found through the configured supervisor (rehearsal/candidate-env.ts).
 */
import { type CandidateEnvironment, candidateEnvironment } from '../rehearsal/candidate-env.js';
import type { JournalSession } from '../store/session.js';
import { configuredSupervisor } from './configured-supervisor.js';

export async function candidateEnvOf(
  session: Pick<JournalSession, 'config' | 'runtime'>,
): Promise<CandidateEnvironment> {
  const { config, runtime } = session;
  const supervisor = await configuredSupervisor(config, runtime.env);
  // A supervisor that cannot say (stopped, refused) leaves the candidate with the caller's basics only.
  const state = await supervisor?.state().catch(() => null);
  return candidateEnvironment({ callerEnv: runtime.env, servicePid: state?.mainPid ?? null });
}
