/**
 * How a gateway's RPC handlers use release-switcher: `update.run` returns at once with a
 * transaction id (the switch runs outside the gateway, which it restarts), `update.status` reports
 * the outcome. Type-checked by `npm test` (tsconfig.examples.json) against the built package.
 */
import { isReleaseSwitcherError, type Transaction, requestUpdate, updateStatus } from 'release-switcher';

const root = process.env.OPENCLAW_RELEASES_ROOT ?? `${process.env.HOME}/.local/share/openclaw-releases`;

type RpcResult<T> = { ok: true; payload: T } | { ok: false; error: { code: string; message: string; hint?: string } };

/** `update.run`: never waits for the restart, which would kill this very process. */
export async function updateRun(params: {
  version?: string;
}): Promise<RpcResult<{ transactionId: string; status: Transaction['status'] }>> {
  try {
    const tx = await requestUpdate({ root, ...(params.version ? { spec: `openclaw@${params.version}` } : {}) });
    return { ok: true, payload: { transactionId: tx.id, status: tx.status } };
  } catch (error) {
    // A brand check, not instanceof: a host that loads two copies of the library still recognises its errors.
    if (isReleaseSwitcherError(error)) {
      return {
        ok: false,
        error: { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) },
      };
    }
    throw error;
  }
}

/** `update.status`: before and after versions, steps with durations, reason, probe evidence, progress. */
export async function updateStatusRpc(): Promise<
  RpcResult<{ running: string | null; inFlight: boolean; last: Transaction | null }>
> {
  const status = await updateStatus({ root });
  return { ok: true, payload: { running: status.current, inFlight: status.inFlight, last: status.transaction } };
}

/** Staging in the gateway itself, with progress for the UI and a cancel button. */
export async function updateRunWithProgress(
  onPhase: (phase: string, done?: number, total?: number) => void,
  signal: AbortSignal,
): Promise<string> {
  const tx = await requestUpdate({
    root,
    stageIn: 'caller',
    signal,
    onProgress: (event) => onPhase(event.phase, event.done, event.total),
  });
  return tx.id;
}
