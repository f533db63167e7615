/** The supervisor a root's config names, or null for `none`. */
import os from 'node:os';
import type { Config } from '../../store/config.js';
import { ReleaseSwitcherError } from '../../model/errors.js';
import { preloadSubprocesses } from '../../platform/subprocess.js';
import { launchdSupervisor } from './launchd.js';
import { pm2Supervisor } from './pm2.js';
import { systemdSupervisor } from './systemd.js';
import type { Supervisor } from './types.js';

export type { ServiceState, Supervisor } from './types.js';

/** `signal`: aborting it kills the supervisor's command under way (systemctl, pm2, launchctl). */
export function supervisorFor(config: Config, env: NodeJS.ProcessEnv, signal?: AbortSignal): Supervisor | null {
  if (config.supervisor === 'none') return null;
  // pm2 and launchd are driven through `run` (execa): load it while the release is checked. systemd's
  // systemctl goes through runCaptured, which needs no execa.
  if (config.supervisor === 'pm2' || config.supervisor === 'launchd') preloadSubprocesses();
  const unit = config.unit;
  if (!unit) {
    throw new ReleaseSwitcherError(
      'INVALID_CONFIG',
      `Supervisor ${config.supervisor} needs a unit (systemd unit, launchd label or pm2 app).`,
      {
        hint: 'Set it: release-switcher init --unit NAME',
      },
    );
  }
  switch (config.supervisor) {
    case 'systemd':
      return systemdSupervisor({ unit, scope: 'user', env, signal });
    case 'systemd-system':
      return systemdSupervisor({ unit, scope: 'system', env, signal });
    case 'pm2':
      return pm2Supervisor({ app: unit, env, signal });
    case 'launchd':
      return launchdSupervisor({ label: unit, uid: os.userInfo().uid, env, signal });
  }
}
