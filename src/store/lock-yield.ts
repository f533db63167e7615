/**
 * Staging gives way to an activation. An install holds the root's lock while it resolves, downloads and
 * unpacks, which on a slow or stalling registry takes minutes; an emergency `rollback` (or a `switch` to an
 * installed release) needs nothing from the network and must not wait on it. So while a holder stages it
 * marks its lock as yielding (a file inside the lock directory); a `switch`/`rollback` that finds the root busy
 * with a yielding holder asks it to give way (a request file beside the mark) and waits up to YIELD_WAIT_MS.
 * The holder, polling for the request, aborts its staging (its downloads, resolver and scripts follow the
 * signal), leaves nothing behind (staging is abandoned as on any failure: CANCELLED) and releases the lock.
 * Outside staging (a flip, a restart, a verification) a holder never yields: that is a busy root.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import { layoutOf } from './layout.js';

/** How long an activation waits for a yielding holder to abandon its staging and release the lock. */
export const YIELD_WAIT_MS = 15_000;
const POLL_MS = 100;
/** How long an aborted staging is given to stop before its folder is removed. */
const SETTLE_MS = 5_000;

const markOf = (root: string) => path.join(layoutOf(root).lock, 'yielding');
const requestOf = (root: string) => path.join(layoutOf(root).lock, 'yield-request');

/**
 * Run `work` (which holds the lock of `root`) as yielding: its signal aborts, and the call rejects with
 * CANCELLED, as soon as an activation asks for the lock.
 */
export async function yieldingTo<T>(
  root: string,
  outer: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const signal = outer ? AbortSignal.any([outer, controller.signal]) : controller.signal;
  await fs.writeFile(markOf(root), `${process.pid}\n`, { mode: 0o600 });
  const poll = setInterval(() => void checkRequest(root, controller), POLL_MS);
  const aborted = new Promise<never>((_resolve, reject) =>
    signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
  );
  aborted.catch(() => undefined);
  const working = work(signal);
  try {
    return await Promise.race([working, aborted]);
  } catch (error) {
    if (!controller.signal.aborted) throw error;
    // Give the work a moment to stop (its children killed, its writes ended), so that the staging folder
    // removed next is not written to again; work that ignores its signal is not waited on longer.
    await Promise.race([working.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, SETTLE_MS))]);
    throw controller.signal.reason;
  } finally {
    clearInterval(poll);
    // The mark goes first: a request that comes after it finds a busy root, not a yielding one.
    await fs.rm(markOf(root), { force: true });
    await fs.rm(requestOf(root), { force: true });
  }
}

async function checkRequest(root: string, controller: AbortController): Promise<void> {
  if (controller.signal.aborted) return;
  const who = await fs.readFile(requestOf(root), 'utf8').catch(() => undefined);
  if (who === undefined) return;
  controller.abort(
    new ReleaseSwitcherError(
      'CANCELLED',
      `Staging gave way to \`${who.trim() || 'an activation'}\`, which needed the lock; nothing was installed.`,
      { hint: 'An activation takes precedence over a download. Run the install again once it is done.' },
    ),
  );
}

/** Ask the holder of `root`'s lock to give way; true when it is staging (it will release the lock soon). */
export async function requestYield(root: string, command: string): Promise<boolean> {
  const marked = await fs.stat(markOf(root)).then(
    () => true,
    () => false,
  );
  if (!marked) return false;
  await fs.writeFile(requestOf(root), `${command}\n`, { mode: 0o600 }).catch(() => undefined);
  return true;
}
