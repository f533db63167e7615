/**
 * The supervisor a root's config names, its adapter loaded only when there is one: an activation
 * with supervisor `none` (and every recovery with nothing in flight) loads no adapter at all
 * (systemd, systemctl, pm2, launchd: five modules at start-up, test/cli/startup-imports.test.ts).
 */
import type { Supervisor } from '../service/supervisors/types.js';
import type { Config } from '../store/config.js';

export async function configuredSupervisor(
  config: Config,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<Supervisor | null> {
  if (config.supervisor === 'none') return null;
  // lazy: the adapters (five modules) only when there is a supervisor (see above)
  const { supervisorFor } = await import('../service/supervisors/index.js');
  return supervisorFor(config, env, signal);
}
