/**
 * Who started a transaction and why (model/state.ts `TransactionOrigin`), from what the caller said of itself (the
 * runtime's `origin`: the CLI's `command`, the timer, OpenClaw's RPC…) and what the call knows of its own reason.
 */
import type { Runtime } from '../model/runtime.js';
import type { OriginWhy, TransactionOrigin } from '../model/state.js';

/** The caller's own words win; a caller that said nothing is a program using the library (`api`). */
export function originOf(asked: Runtime['origin'], own: { why: OriginWhy; detail?: string }): TransactionOrigin {
  const detail = asked?.detail ?? own.detail;
  return {
    by: asked?.by ?? 'api',
    why: asked?.why ?? own.why,
    ...(asked?.user ? { user: asked.user } : {}),
    ...(detail ? { detail } : {}),
  };
}
