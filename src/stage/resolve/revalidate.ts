/**
 * Whether the packuments a kept tree was built from are unchanged (tree-cache.ts): each asked for once
 * more, conditionally where npm's cache kept a validator; on this thread, or on a worker of its own for a
 * large tree (openclaw's 355: about a second of this thread's time against a registry that sends no
 * validators, each document downloaded and hashed), so that the staging's own work goes on beside it.
 */
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import cacache from 'cacache';
import registryFetch from 'npm-registry-fetch';
import { strongestHashes } from '../../registry/integrity.js';
import { cacheKeyOf, packumentHeaders } from './packument-revalidate.js';

/** Conditional requests in flight at once when a kept tree is revalidated. */
const CONCURRENCY = 32;

/** A packument the tree was built from, and how to ask whether it changed. */
export interface Validator {
  url: string;
  /** The document's integrity as npm's cache stored it (the bytes the registry sent). */
  integrity: string;
  etag?: string;
  lastModified?: string;
}

export interface Revalidation {
  cache: string;
  /** The resolution's npm options: the requests go out as pacote's would. */
  flat: Record<string, unknown>;
  signal?: AbortSignal | undefined;
  /**
   * The package's packument, fetched for this staging moments ago (its pacote cache key and when it was asked for):
   * when npm's cache stored it since, with the bytes the tree was built from, it is unchanged without asking again.
   */
  fresh?: { key: string; askedAt: number } | undefined;
}

/** Whether every document behind `validators` is unchanged; the first one changed stops the others' requests. */
export async function allUnchanged(validators: readonly Validator[], how: Revalidation): Promise<boolean> {
  const { cache, flat, signal, fresh } = how;
  const stop = new AbortController();
  const stopped = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  // Every request in flight listens to it.
  setMaxListeners(CONCURRENCY + 10, stopped);
  let unchanged = true;
  const queue = [...validators];
  const worker = async () => {
    while (unchanged && queue.length > 0) {
      const validator = queue.shift()!;
      const valid =
        (fresh !== undefined &&
          `full:${validator.url}` === fresh.key &&
          (await storedSince(cache, validator, fresh))) ||
        (await stillValid(validator, flat, stopped));
      if (!valid) {
        unchanged = false;
        stop.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
  return unchanged && !signal?.aborted;
}

/** npm's cache stored the document's very bytes since `fresh.askedAt`: the registry sent them during this staging. */
async function storedSince(cache: string, validator: Validator, fresh: { askedAt: number }): Promise<boolean> {
  const entry = (await cacache.get.info(cache, cacheKeyOf(validator.url)).catch(() => null)) as StoredEntry | null;
  return entry?.integrity === validator.integrity && (entry.time ?? 0) >= fresh.askedAt;
}

/**
 * Whether the document behind `validator` has not changed: a 304 to the conditional request, or else (a registry
 * that sends no validators, or ignores them) a body of the very bytes the tree was built from.
 */
async function stillValid(validator: Validator, flat: Record<string, unknown>, signal: AbortSignal): Promise<boolean> {
  const name = decodeURIComponent(validator.url.slice(validator.url.lastIndexOf('/') + 1));
  try {
    const res = await registryFetch(validator.url, {
      ...flat,
      // Straight to the registry: make-fetch-happen's cache would answer from itself while it thinks it fresh.
      cache: undefined,
      retry: { retries: 0 },
      signal,
      headers: {
        ...packumentHeaders({ spec: { name }, opts: flat }),
        ...(validator.etag ? { 'if-none-match': validator.etag } : {}),
        ...(validator.lastModified ? { 'if-modified-since': validator.lastModified } : {}),
      },
      integrity: null,
    });
    const etag = res.headers.get('etag');
    if (res.status === 304) {
      res.body.resume();
      return etag === null || validator.etag === undefined || etag === validator.etag;
    }
    const expected = strongestHashes(validator.integrity);
    if (res.status !== 200 || !expected) {
      res.body.resume();
      return false;
    }
    const hash = createHash(expected.algorithm);
    for await (const chunk of res.body as unknown as AsyncIterable<Buffer>) hash.update(chunk);
    return expected.digests.includes(hash.digest('base64'));
  } catch {
    return false;
  }
}

interface StoredEntry {
  integrity: string | null;
  time?: number;
}

const WORKER = new URL('./revalidate-worker.js', import.meta.url);
/** Built, the worker's script lies beside this module; run from the TypeScript sources there is none (this thread then). */
const HAS_WORKER = existsSync(fileURLToPath(WORKER));
/**
 * From this many documents a thread of its own pays for itself: starting it and loading npm's fetch in it
 * is ~80 ms of the other core, and each document ~2 ms of this thread's (express's 70 stay here).
 */
const THREAD_FROM = 150;

let threadAnswers = 0;
/** How many revalidations a worker of this process answered (for tests: the thread was used, not this one). */
export function answeredOnThread(): number {
  return threadAnswers;
}

/** What the worker is given: plain data (npm's options as flatNpmOptions makes them). */
export interface WorkerInput {
  validators: Validator[];
  cache: string;
  flat: Record<string, unknown>;
}

/**
 * `allUnchanged`, on a worker of its own for a large tree: the same requests, the same answer. A worker that
 * cannot start or fails before it answers leaves the work to this thread; aborted, it is terminated.
 */
export function allUnchangedBeside(validators: readonly Validator[], how: Revalidation): Promise<boolean> {
  if (validators.length < THREAD_FROM || !HAS_WORKER || how.fresh !== undefined) return allUnchanged(validators, how);
  const { cache, flat, signal } = how;
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    const workerData: WorkerInput = { validators: [...validators], cache, flat };
    let worker: Worker;
    try {
      worker = new Worker(WORKER, { workerData });
    } catch {
      resolve(allUnchanged(validators, how));
      return;
    }
    // Not unref'd: a staging that waits on nothing else but its answer must not see the process end under it.
    // Whoever gives up on the answer aborts `signal`, which terminates it.
    let settled = false;
    // `answer` is called only for the first outcome: the worker exits after its message, and that exit must
    // not start the work again on this thread.
    const settle = (answer: () => boolean | Promise<boolean>) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      resolve(answer());
    };
    const onAbort = () => {
      settle(() => false);
      void worker.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (unchanged: boolean) =>
      settle(() => {
        threadAnswers++;
        return unchanged === true;
      }),
    );
    worker.once('error', () => settle(() => allUnchanged(validators, how)));
    worker.once('exit', () => settle(() => allUnchanged(validators, how)));
  });
}
