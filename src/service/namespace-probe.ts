/**
 * Whether the service's account may make the namespace a finalize on a copy runs in (finalize.ts `inNamespace`): a user
 * namespace of its own, a mount namespace in it, a bind mount and the private folders' tmpfs. Asked before the copy is
 * made (transaction/finalize-ahead-step.ts), with the live folder mounted over itself: the same rights the real run
 * needs, without a copy of the state that would be thrown away. Where the kernel refuses (user namespaces off, the
 * per-namespace limit `user.max_user_namespaces` spent or 0, a sandbox or an AppArmor profile that restricts them),
 * finalize runs in the stop window as before, and `reason` says what the kernel answered.
 */
import { runCaptured, tail } from '../platform/subprocess.js';
import type { RunAs } from '../platform/run-as.js';
import { type OnCopy, inNamespace } from './finalize.js';

/** A probe that hangs (a sandbox that stalls a syscall) is a refusal, not a wait as long as finalize's. */
const PROBE_TIMEOUT_MS = 30_000;

export type NamespaceAnswer = { available: true } | { available: false; reason: string };

/** `/bin/true` run in the namespace `onCopy` asks for, as `as` (@default this process's account). */
export async function namespaceFor(
  onCopy: OnCopy,
  options: { as?: RunAs | undefined; signal?: AbortSignal | undefined } = {},
): Promise<NamespaceAnswer> {
  const [probe, args] = inNamespace('/bin/true', [], onCopy);
  const tried = await runCaptured(probe, args, {
    cwd: '/',
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
    timeoutMs: PROBE_TIMEOUT_MS,
    signal: options.signal,
    as: options.as,
  });
  if (!tried.failed) return { available: true };
  const said = tail(tried.output, 3).trim() || `exit ${tried.exitCode ?? 'signal'}`;
  return {
    available: false,
    reason: `the service's account may not make the mount namespace finalize runs in on a copy${tried.timedOut ? ' (timed out)' : ''}: ${said}`,
  };
}
