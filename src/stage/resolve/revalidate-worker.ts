/**
 * The worker of `allUnchangedBeside` (revalidate.ts): a large kept tree's packuments asked for again on a
 * thread of their own; the answer, true when every one is unchanged, is its one message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type WorkerInput, allUnchanged } from './revalidate.js';

const { validators, cache, flat } = workerData as WorkerInput;
parentPort!.postMessage(await allUnchanged(validators, { cache, flat }));
