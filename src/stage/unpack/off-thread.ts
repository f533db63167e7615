/**
 * Unpack on a worker thread (unpack-worker.ts): for the main package, whose unpack runs beside the
 * resolution (a small one stays on this thread). Same result and errors as `unpack` (index.ts): a ReleaseSwitcherError comes back as one
 * (BAD_TARBALL, CANCELLED…), an errno error with its code; cancelling asks the thread to stop and
 * waits for it, so that nothing writes into `dest` once this has settled.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type ErrorCode, ReleaseSwitcherError } from '../../model/errors.js';
import type { KnownHash } from '../../store/manifest.js';
import { type DeferredFile, type UnpackOptions, type UnpackResult, unpack } from './index.js';
import type { UnpackedEntry } from './unpack.js';
import { type LinkableRelease, linkableIn } from './linkable.js';

export interface WorkerInput {
  tarball: string;
  dest: string;
  /** Top-level names whose files' hashes are not kept (npm rewrites them: isNpmWrite). */
  skipTop: string[];
  reportEvery: number;
  /** A release to hardlink the package's own files from where it holds them byte for byte (not written). */
  linkFrom?: LinkableRelease | undefined;
}

export type ToWorker = { type: 'abort' };

export type FromWorker =
  | { type: 'entries'; count: number }
  | {
      type: 'done';
      known: Map<string, KnownHash>;
      count: number;
      bytes: number;
      entries: UnpackedEntry[];
      deferred: DeferredFile[];
    }
  | {
      type: 'failed';
      error: {
        ours: boolean;
        code: string | undefined;
        message: string;
        hint: string | undefined;
        details: Record<string, unknown> | undefined;
      };
    };

export interface OffThreadOptions extends Pick<UnpackOptions, 'tarball' | 'dest' | 'signal'> {
  skipTop: readonly string[];
  /** Files the tarball holds, as its registry says (`dist.fileCount`): a small one unpacks on this thread. */
  fileCount?: number | undefined;
  /** Called every `reportEvery` entries written. */
  onEntry?: (count: number) => void;
  reportEvery?: number;
  /**
   * Files of a release the package's own may be hardlinked to where they are the same bytes and sealed mode:
   * those are not written, and come back in `deferred` for the caller to link.
   */
  linkFrom?: LinkableRelease | undefined;
}

const WORKER = new URL('./unpack-worker.js', import.meta.url);
/**
 * Built, the worker's script lies beside this module. Run from the TypeScript sources (the in-process
 * tests) there is none, and a worker cannot load them: the unpack then runs on this thread, as before.
 */
const HAS_WORKER = existsSync(fileURLToPath(WORKER));

/**
 * Below this many files a thread costs more than it saves (starting it and loading the unpacker in
 * it is tens of milliseconds; a 500-file package unpacks in about that).
 */
const THREAD_FROM_FILES = 500;

/** What the main package's unpack gives back: its entries are the tarball's own (the store's index of it). */
export type MainUnpack = Pick<UnpackResult, 'known' | 'count' | 'bytes' | 'entries' | 'deferred'>;

export function unpackOffThread(options: OffThreadOptions): Promise<MainUnpack> {
  const workerData: WorkerInput = {
    tarball: options.tarball,
    dest: options.dest,
    skipTop: [...options.skipTop],
    reportEvery: options.reportEvery ?? 1000,
    ...(options.linkFrom ? { linkFrom: options.linkFrom } : {}),
  };
  if (!HAS_WORKER || (options.fileCount !== undefined && options.fileCount < THREAD_FROM_FILES))
    return unpackAsAsked(workerData, options.signal, (count) => options.onEntry?.(count));
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData });
    let outcome: { ok: MainUnpack } | { error: unknown } | undefined;
    const onAbort = () => worker.postMessage({ type: 'abort' } satisfies ToWorker);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'entries') options.onEntry?.(message.count);
      else if (message.type === 'done')
        outcome = {
          ok: {
            known: message.known,
            count: message.count,
            bytes: message.bytes,
            entries: message.entries,
            deferred: message.deferred,
          },
        };
      else outcome = { error: rebuilt(message.error) };
    });
    worker.on('error', (error) => {
      outcome ??= { error };
    });
    // Settles only once the thread is gone: nothing of it writes into `dest` afterwards.
    worker.on('exit', (exitCode) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (outcome && 'ok' in outcome) resolve(outcome.ok);
      else
        reject(
          outcome?.error ??
            new ReleaseSwitcherError('INTERNAL', `The unpack thread exited (${exitCode}) without a result.`),
        );
    });
  });
}

/** The unpack a WorkerInput asks for, on the calling thread (the worker's, or ours for a small package). */
export function unpackAsAsked(
  input: WorkerInput,
  signal: AbortSignal | undefined,
  report: (count: number) => void,
): Promise<UnpackResult> {
  const skipTop = new Set(input.skipTop);
  const skipped = (rel: string) => skipTop.has(rel.split('/')[0]!);
  // Never what npm rewrites (the release's files to link from are the caller's choice: reuse/link-previous.ts).
  const linkable = input.linkFrom && linkableIn(input.linkFrom);
  return unpack({
    tarball: input.tarball,
    dest: input.dest,
    signal,
    skipKnown: skipped,
    ...(linkable ? { linkable: (rel, file) => (skipped(rel) ? undefined : linkable(rel, file)) } : {}),
    onEntry: (count) => {
      if (count % input.reportEvery === 0) report(count);
    },
  });
}

function rebuilt(error: Extract<FromWorker, { type: 'failed' }>['error']): Error {
  if (error.ours)
    return new ReleaseSwitcherError(error.code as ErrorCode, error.message, {
      ...(error.hint !== undefined ? { hint: error.hint } : {}),
      ...(error.details !== undefined ? { details: error.details } : {}),
    });
  return Object.assign(new Error(error.message), error.code === undefined ? {} : { code: error.code });
}
