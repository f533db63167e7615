/**
 * A wait on the network that settles by its deadline, whatever the other side does.
 * `AbortSignal.timeout()` runs on an unref'd timer: when a request stalls with no socket left open
 * (undici's fetch against a server that is shutting down), nothing keeps the process alive, and a
 * CLI awaiting it at the top level exits 13 ("unsettled top-level await") with no output at all.
 * CI met that: `status --json` printed nothing while a runner restarted the service it probes.
 * Here the deadline is a ref'd timer, it aborts the work's signal, and the result is a race against
 * it, so even work that ignores the signal cannot outlive it.
 */

/** The error of a deadline that passed (name `TimeoutError`, as AbortSignal.timeout's). */
export function isDeadlineError(error: unknown): boolean {
  return error instanceof Error && error.name === 'TimeoutError';
}

export async function withDeadline<T>(ms: number, what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`${what}: no answer within ${ms} ms`);
      error.name = 'TimeoutError';
      controller.abort(error);
      reject(error);
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
