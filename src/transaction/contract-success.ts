/**
 * For a preset whose service publishes a success contract (openclaw: `listenerOwnership`): a verify that passed on
 * health and version also needs the new main PID to own the listener; `/readyz` is recorded beside it, never judged.
 */
import type { VerifyResult } from '../service/health.js';
import { listenerEvidence } from '../service/listener-evidence.js';
import type { Supervisor } from '../service/supervisors/types.js';
import { servicePreset } from '../store/presets.js';
import type { Config } from '../store/config.js';

export async function judgeListener(
  config: Config,
  supervisor: Supervisor,
  result: VerifyResult,
): Promise<VerifyResult> {
  if (!result.ok || !config.healthUrl || !servicePreset(config)?.listenerOwnership) return result;
  const { mainPid } = await supervisor.state();
  const listener = await listenerEvidence({ pid: mainPid, healthUrl: config.healthUrl });
  const evidence = { ...result.evidence, mainPid, ...listener };
  if (listener.mainPidOwnsListener === false)
    return {
      ok: false,
      reason: 'unhealthy',
      detail: `the main process ${mainPid} does not own the listener of ${config.healthUrl}`,
      evidence,
    };
  return { ...result, evidence };
}
