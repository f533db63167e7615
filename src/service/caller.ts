/**
 * Which supervised service the calling process runs inside, if any. A switch started from inside
 * the service (the gateway's own update.run) must run outside it: restarting the service kills its
 * whole cgroup or process tree, the caller included (seeds 000 and 003).
 */
import fs from 'node:fs';
import type { Config, SupervisorName } from '../store/config.js';

export interface CallerService {
  supervisor: SupervisorName;
  /** The unit, label or app, when it can be told. */
  unit: string | null;
}

/** The systemd unit a /proc/<pid>/cgroup text places the process in (`…/openclaw-gateway.service`). */
export function unitFromCgroup(cgroup: string): string | null {
  for (const line of cgroup.split('\n')) {
    const path = line.split(':').slice(2).join(':');
    const units = path.split('/').filter((part) => /\.service$/.test(part) && !/^user@\d+\.service$/.test(part));
    if (units.length > 0) return units.at(-1)!;
  }
  return null;
}

export function readOwnCgroup(): string {
  try {
    return fs.readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return '';
  }
}

/**
 * The supervisor the caller runs under, from its environment and cgroup. `unitVariable`: the variable the service's
 * own processes carry naming their unit (the root's preset's `unitVariable`), which wins over the cgroup's unit.
 */
export function detectCallerService(
  env: NodeJS.ProcessEnv,
  cgroup: string = readOwnCgroup(),
  unitVariable?: string,
): CallerService | null {
  const unit = unitFromCgroup(cgroup);
  const named = unitVariable ? env[unitVariable] : undefined;
  if (named)
    return {
      supervisor: /\/user@\d+\.service\//.test(cgroup) ? 'systemd' : 'systemd-system',
      unit: named,
    };
  if (env.INVOCATION_ID || unit)
    return { supervisor: /\/user@\d+\.service\//.test(cgroup) ? 'systemd' : 'systemd-system', unit };
  if (env.pm_id !== undefined) return { supervisor: 'pm2', unit: env.name ?? null };
  if (env.XPC_SERVICE_NAME && env.XPC_SERVICE_NAME !== '0')
    return { supervisor: 'launchd', unit: env.XPC_SERVICE_NAME };
  if (Object.keys(env).some((key) => key.startsWith('LAUNCH_JOB_'))) return { supervisor: 'launchd', unit: null };
  return null;
}

/** Whether the caller is inside the very service this root supervises. */
export function isInsideService(
  config: Config,
  env: NodeJS.ProcessEnv,
  cgroup: string = readOwnCgroup(),
  unitVariable?: string,
): boolean {
  if (config.supervisor === 'none' || !config.unit) return false;
  const caller = detectCallerService(env, cgroup, unitVariable);
  if (!caller) return false;
  const same = (a: string, b: string) => a === b || a === `${b}.service` || `${a}.service` === b;
  if (caller.supervisor.startsWith('systemd') && config.supervisor.startsWith('systemd')) {
    return caller.unit !== null && same(caller.unit, config.unit);
  }
  return caller.supervisor === config.supervisor && (caller.unit === null || same(caller.unit, config.unit));
}
