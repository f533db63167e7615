/**
 * The main package's unpack on a thread of its own (off-thread.ts starts it): gunzip is in libuv's
 * pool either way, but reading the tar stream, hashing every file and driving the writes is
 * JavaScript, and on our thread it took turns with the resolution that runs at the same time
 * (arborist, and parsing every packument). Here the two use both cores.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isReleaseSwitcherError } from '../../model/errors.js';
import { type FromWorker, type ToWorker, type WorkerInput, unpackAsAsked } from './off-thread.js';

const input = workerData as WorkerInput;
const port = parentPort!;
const stopping = new AbortController();
port.on('message', (message: ToWorker) => {
  if (message.type === 'abort') stopping.abort();
});
const post = (message: FromWorker) => port.postMessage(message);

try {
  const result = await unpackAsAsked(input, stopping.signal, (count) => post({ type: 'entries', count }));
  const { known, count, bytes, entries, deferred } = result;
  post({ type: 'done', known, count, bytes, entries, deferred });
} catch (error) {
  const e = error as Error & { code?: unknown; hint?: string; details?: Record<string, unknown> };
  post({
    type: 'failed',
    error: {
      ours: isReleaseSwitcherError(error),
      code: typeof e.code === 'string' ? e.code : undefined,
      message: e.message ?? String(error),
      hint: e.hint,
      details: e.details,
    },
  });
} finally {
  port.close();
}
