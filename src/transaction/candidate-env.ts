/**
 * The environment the target release's code is started with before it is trusted (the rehearsal, the database
 * check), and the account it runs as. For the caller's own service: the running service's own environment, found
 * through the configured supervisor (rehearsal/candidate-env.ts). For another account's (root acting for it): the
 * service identity's, which is the unit's definition under systemd (unit-environment.ts), never what a process of that
 * account shows; under pm2 or none, that account's process's (its own configuration: the candidate runs as it and can
 * gain nothing from it). Either way the caller's own environment gives only its locale then.
 */
import type { RunAs } from '../platform/run-as.js';
import { type CandidateEnvironment, candidateEnvironment, withoutPerProcess } from '../rehearsal/candidate-env.js';
import type { JournalSession } from '../store/session.js';
import { configuredSupervisor } from './configured-supervisor.js';
import { localeOf, serviceIdentity } from './service-identity.js';

export async function candidateEnvOf(
  session: Pick<JournalSession, 'config' | 'runtime'>,
): Promise<CandidateEnvironment & { as: RunAs | undefined }> {
  const { config, runtime } = session;
  const service = await serviceIdentity(session);
  const supervisor = await configuredSupervisor(config, runtime.env);
  // A supervisor that cannot say (stopped, refused) leaves the candidate with the caller's basics only.
  const state = await supervisor?.state().catch(() => null);
  const as = service.runAs;
  if (as && config.supervisor.startsWith('systemd') && config.unit)
    return { env: withoutPerProcess(service.env), from: service.from, as };
  const callerEnv = as ? localeOf(runtime.env) : runtime.env;
  const found = await candidateEnvironment({ callerEnv, servicePid: state?.mainPid ?? null });
  // Nothing runs: the account's own basics (from the password database), not the caller's.
  if (!as) return { ...found, as };
  const ran = found.from === `the service's process ${state?.mainPid}`;
  return { env: { ...withoutPerProcess(service.env), ...found.env }, from: ran ? found.from : service.from, as };
}
