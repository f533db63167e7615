/**
 * The unit's present start as systemd reports it: its InvocationID (new at every start, automatic restarts too),
 * which the boot-check records with each run and its readers compare against (store/boot-check-record.ts).
 */
import type { Config } from '../store/config.js';
import type { UnitStart } from '../store/boot-check-record.js';
import { systemctl } from './systemctl.js';
import type { CommandRunner } from './supervisors/types.js';

/** Null without a systemd unit to ask, or when systemctl cannot be asked. */
export async function unitStart(
  config: Pick<Config, 'supervisor' | 'unit'>,
  options: { env: NodeJS.ProcessEnv; signal?: AbortSignal | undefined; runner?: CommandRunner | undefined },
): Promise<UnitStart | null> {
  if ((config.supervisor !== 'systemd' && config.supervisor !== 'systemd-system') || !config.unit) return null;
  const shown = await systemctl(
    [
      'show',
      config.unit,
      '--property=InvocationID',
      '--property=ExecMainStartTimestamp',
      '--property=ActiveState',
      '--property=SubState',
    ],
    {
      scope: config.supervisor === 'systemd' ? 'user' : 'system',
      env: options.env,
      signal: options.signal,
      timeoutMs: 15_000,
      ...(options.runner && { runner: options.runner }),
    },
  ).catch(() => undefined);
  return shown?.exitCode === 0 ? parseUnitStart(shown.output) : null;
}

/** `systemctl show` output (KEY=value lines) as a UnitStart. */
export function parseUnitStart(output: string): UnitStart {
  const prop = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(output)?.[1]?.trim() || null;
  const active = prop('ActiveState') ?? 'unknown';
  const sub = prop('SubState');
  return {
    invocation: prop('InvocationID'),
    startedAt: prop('ExecMainStartTimestamp'),
    state: sub ? `${active}/${sub}` : active,
  };
}
