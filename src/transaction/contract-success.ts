/**
 * For a preset whose service publishes a success contract (openclaw: `listenerOwnership`): a verify that passed on
 * health and version also needs the new main PID to own the listener. Readiness (`/readyz`, per configured channel)
 * is judged against what the service said before the activation: a channel or subsystem that was ready then and is
 * not after the stability window is a warning on the transaction, or, with `readiness: require`, a failed
 * verification (`not_ready`). One already failing before is not the release's doing; readiness never read before
 * (a recovery that re-entered verify) counts as all ready.
 */
import type { TransactionWarning } from '../model/state.js';
import type { VerifyResult } from '../service/health.js';
import { listenerEvidence, notReady, readyz } from '../service/listener-evidence.js';
import type { Supervisor } from '../service/supervisors/types.js';
import { servicePreset } from '../presets/index.js';
import type { Config } from '../store/config.js';

/** What the service said about its readiness before the activation; null: it gave no answer then. */
export interface ReadinessBefore {
  notReady: string[] | null;
}

/** `/readyz` of the release that serves now, before anything stops, where the preset judges readiness. */
export async function readinessBefore(config: Config): Promise<ReadinessBefore | undefined> {
  if (!config.healthUrl || !servicePreset(config)?.listenerOwnership) return undefined;
  return { notReady: notReady(await readyz(config.healthUrl)) };
}

/** The verdict with the listener's evidence; `before` is given where readiness is judged (the forward verify). */
export async function judgeListener(
  config: Config,
  supervisor: Supervisor,
  result: VerifyResult,
  before?: ReadinessBefore,
): Promise<{ result: VerifyResult; warnings: TransactionWarning[] }> {
  if (!result.ok || !config.healthUrl || !servicePreset(config)?.listenerOwnership) return { result, warnings: [] };
  const { mainPid, processes } = await supervisor.state();
  const listener = await listenerEvidence({ pid: mainPid, healthUrl: config.healthUrl, processes });
  const evidence = { ...result.evidence, mainPid, ...listener };
  if (listener.mainPidOwnsListener === false)
    return {
      result: {
        ok: false,
        reason: 'unhealthy',
        detail: `the main process ${mainPid} does not own the listener of ${config.healthUrl}`,
        evidence,
      },
      warnings: [],
    };
  if (!before) return { result: { ...result, evidence }, warnings: [] };
  const after = notReady(listener.readyz);
  const lost = readinessLost(before, after);
  if (lost.length === 0) return { result: { ...result, evidence }, warnings: [] };
  // Recorded in the verify step's evidence: what was not ready before, after, and what was lost.
  const judgedEvidence = { ...evidence, readiness: { before: before.notReady, after, lost } };
  const said =
    after === null
      ? `/readyz gave no readiness answer after the stability window (${listener.readyz.error ?? `HTTP ${listener.readyz.status}`}); before it did`
      : `not ready after the stability window, ready before: ${lost.join(', ')} (/readyz ${listener.readyz.status})`;
  if (config.readiness === 'require')
    return { result: { ok: false, reason: 'not_ready', detail: said, evidence: judgedEvidence }, warnings: [] };
  return {
    result: { ...result, evidence: judgedEvidence },
    warnings: [
      { step: 'verify', code: 'NOT_READY', message: `${said}; verified on health and version (readiness: warn)` },
    ],
  };
}

/** What is not ready after and was ready before; after no answer at all, the answer itself (if there was one before). */
function readinessLost(before: ReadinessBefore, after: string[] | null): string[] {
  if (after === null) return before.notReady === null ? [] : ['readyz'];
  const failingBefore = new Set(before.notReady ?? []);
  return after.filter((name) => !failingBefore.has(name));
}
