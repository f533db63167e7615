/**
 * Every read from a registry (packument, tarball, signing keys) has two deadlines: an idle one, npm's own
 * `fetch-timeout` (no byte for that long ends the socket: @npmcli/agent's idle timer, which pacote arms from
 * its `timeout` option; the kebab-case key in .npmrc reached nothing before), and a total one, so that a
 * registry sending a byte now and then, which no idle deadline ever ends, cannot hold a download (and
 * the root's lock) for ever: TOTAL_FACTOR times the idle deadline, 20 minutes with npm's default.
 */
import { ReleaseSwitcherError } from '../model/errors.js';
import { isDeadlineError, withDeadline } from '../platform/deadline.js';

/** npm's default `fetch-timeout` (5 minutes). */
const NPM_FETCH_TIMEOUT_MS = 300_000;
/** The total deadline of one request, in idle deadlines: 20 min for npm's default, room for a slow link. */
export const TOTAL_FACTOR = 4;

export interface NetworkDeadlines {
  idleMs: number;
  totalMs: number;
}

export function networkDeadlines(npmConfig: Readonly<Record<string, string>>): NetworkDeadlines {
  const configured = Number(npmConfig['fetch-timeout'] ?? npmConfig.timeout);
  // npm reads 0 as "no timeout"; here a wait without a deadline is what this module exists to prevent.
  const idleMs = Number.isFinite(configured) && configured > 0 ? configured : NPM_FETCH_TIMEOUT_MS;
  return { idleMs, totalMs: idleMs * TOTAL_FACTOR };
}

/**
 * Run one network read under its total deadline and the caller's signal (an abort, or an activation the
 * staging gives way to): whichever comes first settles it, even when the work ignores its signal.
 */
export async function withNetworkDeadline<T>(
  request: { npmConfig: Readonly<Record<string, string>>; signal?: AbortSignal | undefined; what: string },
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const { totalMs } = networkDeadlines(request.npmConfig);
  const outer = request.signal;
  outer?.throwIfAborted();
  try {
    return await withDeadline(totalMs, request.what, (deadline) => {
      const signal = outer ? AbortSignal.any([deadline, outer]) : deadline;
      const aborted = new Promise<never>((_resolve, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
      );
      aborted.catch(() => undefined);
      return Promise.race([work(signal), aborted]);
    });
  } catch (error) {
    if (!isDeadlineError(error)) throw error;
    throw new ReleaseSwitcherError(
      'FETCH_FAILED',
      `${request.what}: the registry did not finish within ${totalMs / 1000} s (${TOTAL_FACTOR} x fetch-timeout).`,
      {
        hint: 'The registry or the network is too slow or stalls; try again, or raise npm fetch-timeout (npm config set fetch-timeout MS).',
        cause: error,
      },
    );
  }
}
