/**
 * Every operation on the service's state folders, by name, over plain data: run in this process when the state is
 * this account's, else in a worker of ours running as the state's account (account-worker.ts, platform/as-account.ts).
 * Root acting for the account then never follows a link the account planted, never creates a file in its folders and
 * never changes a mode or an owner there: the kernel holds the worker to the account's rights. The folders of the
 * root's own tree an operation needs (a checkpoint's `data/`, the one it writes or the one it reads) are `dirs`:
 * made when missing, handed to the account through their descriptors, reached as `/proc/self/fd/N`; their root-only
 * parent (snapshots/, 0700) keeps the account out of them by path before and after.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errnoOf, isReleaseSwitcherError } from '../model/errors.js';
import { actsAsRootFor, openDirFor, runAsAccount } from '../platform/as-account.js';
import { armedCrashPoint } from '../platform/crashpoint.js';
import type { RunAs } from '../platform/run-as.js';
import { type CaptureRequest, captureAll } from './capture.js';
import type { SnapshotManifest } from './manifest.js';
import { type LiveCopy, placeLiveCopy, placeSnapshotCopy } from './private-place.js';
import { putBack } from './put-back.js';
import { describeCheckpoint } from './coverage.js';
import { filesUnder } from './state-files.js';
import { assertStatePathsApart, resolveIndependentPaths, resolveStatePaths } from './state-paths.js';
import { adoptAside, liveDirs, makeReady, removeReady, storedIn } from './swap-account.js';
import {
  digest,
  fingerprint,
  makeAheadFolder,
  readyToSwap,
  removeAhead,
  swapIn as swapAheadIn,
  type WalkFilter,
} from './ahead-account.js';
import type { SwapEntry, SwapRecord } from './swap-record.js';

/** A capture whose `earlier` copies are named by their `stored` in the checkpoint handed as the second folder. */
export type CaptureArgs = Omit<CaptureRequest, 'earlier'> & {
  earlier: Array<{ stored: string; since: number } | null>;
};

export const STATE_OPS = {
  // The state paths' wildcards matched by listing the account's folders with its rights (a folder it links to a
  // root-only one lists nothing). Independent paths left out.
  resolve: async (
    _dirs: string[],
    args: { statePaths: string[]; independentPaths: string[]; env: NodeJS.ProcessEnv },
  ) => {
    const skip = await resolveIndependentPaths(args.independentPaths, args.env);
    const paths = (await resolveStatePaths(args.statePaths, args.env)).filter((p) => !skip.has(p));
    return { paths, skip: [...skip] };
  },
  // Whether the state paths, their links resolved with the account's rights, stay apart from the root (`root`: its
  // real path, resolved by the root's owner).
  apart: (_dirs: string[], args: { statePaths: string[]; root: string; env: NodeJS.ProcessEnv }) =>
    assertStatePathsApart(args.statePaths, args.root, args.env),
  // What a checkpoint would cover (init shows it), walked with the account's rights.
  coverage: (_dirs: string[], args: Parameters<typeof describeCheckpoint>[0]) => describeCheckpoint(args),
  // The real paths of those of `paths` that are folders, resolved with the account's rights.
  realDirs: async (_dirs: string[], args: { paths: string[] }) => {
    const real: string[] = [];
    for (const p of args.paths)
      if ((await fs.stat(p).catch(() => undefined))?.isDirectory()) real.push(await fs.realpath(p));
    return real;
  },
  // The files under the live state paths (the database preflight's), listed with the account's rights.
  files: (_dirs: string[], args: { paths: string[] }) => filesUnder(args.paths.map((p) => ({ live: p, at: p }))),
  capture: (dirs: string[], args: CaptureArgs) =>
    captureAll(dirs[0]!, {
      ...args,
      earlier: args.earlier.map((e) => (e && dirs[1] ? { dir: storedIn(dirs[1], e.stored), since: e.since } : null)),
    }),
  putBack: (dirs: string[], args: { manifest: SnapshotManifest; record?: SwapRecord | undefined; again: boolean }) =>
    putBack(dirs[0]!, args.manifest, { record: args.record, again: args.again }),
  liveDirs: (_dirs: string[], args: { paths: string[] }) => liveDirs(args.paths),
  makeReady: (dirs: string[], args: { entries: Array<{ stored: string; ready: string }>; residue: string[] }) =>
    makeReady(dirs[0]!, args.entries, args.residue),
  adopt: (dirs: string[], args: { entries: SwapEntry[] }) => adoptAside(dirs[0]!, args.entries),
  removeReady: (_dirs: string[], args: { readies: string[] }) => removeReady(args.readies),
  // A private copy for a rehearsal: into the folder handed (a worker's), else into `dir`.
  privateCopy: (dirs: string[], args: { dir: string; copy: LiveCopy }) => placeLiveCopy(dirs[0] ?? args.dir, args.copy),
  snapshotCopy: (dirs: string[], args: { dir: string; copy: Parameters<typeof placeSnapshotCopy>[2] }) =>
    placeSnapshotCopy(dirs[0]!, dirs[1] ?? args.dir, args.copy),
  // Finalize done ahead (ahead-account.ts): the copy made inside the live folder, what it and the live folder hold,
  // the write set put in place, the copy and the aside removed.
  aheadCopy: async (_dirs: string[], args: { ready: string; copy: LiveCopy; base?: string | undefined }) => {
    await makeAheadFolder(args.ready);
    if (args.base) await makeAheadFolder(args.base);
    return placeLiveCopy(args.ready, { ...args.copy, into: true });
  },
  aheadFingerprint: (_dirs: string[], args: { dir: string } & WalkFilter) => fingerprint(args.dir, args),
  aheadDigest: (_dirs: string[], args: { dir: string } & WalkFilter) => digest(args.dir, args),
  // A refusal before anything moved is an answer (`refused`): the window then runs finalize on the live state. One
  // after a rename is thrown: the live state is half swapped, and the way back puts the checkpoint back.
  aheadSwap: async (
    _dirs: string[],
    args: { live: string; ready: string; aside: string; entries: string[] },
  ): Promise<{ moved: string[]; refused?: { code: string; message: string } }> => {
    try {
      await readyToSwap(args.live, args.ready, args.aside, args.entries);
    } catch (error) {
      const denied = ['EACCES', 'EPERM', 'ELOOP'].includes(errnoOf(error) ?? '');
      const code = isReleaseSwitcherError(error) ? error.code : denied ? 'PERMISSION_DENIED' : 'STATE_COPY_FAILED';
      return { moved: [], refused: { code, message: (error as Error).message } };
    }
    return { moved: await swapAheadIn(args.live, args.ready, args.aside, args.entries) };
  },
  aheadRemove: (_dirs: string[], args: { live: string; folders: string[] }) => removeAhead(args.live, args.folders),
};

export type StateOp = keyof typeof STATE_OPS;
type ArgsOf<K extends StateOp> = Parameters<(typeof STATE_OPS)[K]>[1];
type ResultOf<K extends StateOp> = Awaited<ReturnType<(typeof STATE_OPS)[K]>>;

/** Long: a checkpoint copies the whole state. A worker killed by it fails the operation, as a failed copy would. */
const WORKER_TIMEOUT_MS = 3_600_000;
const WORKER = fileURLToPath(new URL('./account-worker.js', import.meta.url));

/**
 * Run `op` on the state of `as` (undefined: this process's account): here, or as that account when this process is
 * root and it is another. `dirs`: folders of the root's own tree the operation works in.
 */
export async function onStateSide<K extends StateOp>(
  as: RunAs | undefined,
  op: K,
  dirs: readonly string[],
  args: ArgsOf<K>,
): Promise<ResultOf<K>> {
  const local = STATE_OPS[op] as (dirs: string[], args: ArgsOf<K>) => Promise<ResultOf<K>>;
  if (!actsAsRootFor(as)) return local([...dirs], args);
  const handles = [];
  try {
    for (const dir of dirs) handles.push(await openDirFor(dir, as));
    const crashAt = armedCrashPoint();
    return (await runAsAccount(
      as,
      op,
      { dirs: handles.length, args, ...(crashAt && { crashAt }) },
      { script: WORKER, dirs: handles, timeoutMs: WORKER_TIMEOUT_MS },
    )) as ResultOf<K>;
  } finally {
    for (const handle of handles) await handle.close();
  }
}

/**
 * The state paths as the service resolves them now, by its account (`as`): wildcards listed with its rights, the
 * independent paths left out (`skip`).
 */
export async function resolveStateAs(
  as: RunAs | undefined,
  args: { statePaths: readonly string[]; independentPaths: readonly string[]; env: NodeJS.ProcessEnv },
): Promise<{ paths: string[]; skip: Set<string> }> {
  const { paths, skip } = await onStateSide(as, 'resolve', [], {
    statePaths: [...args.statePaths],
    independentPaths: [...args.independentPaths],
    env: args.env,
  });
  return { paths, skip: new Set(skip) };
}

/**
 * assertStatePathsApart, the state's links resolved by its account (`as`): root acting for it never resolves a link
 * the account planted. The root's own path is resolved here, by its owner.
 */
export async function assertStateApartAs(
  as: RunAs | undefined,
  args: { statePaths: readonly string[]; root: string; env: NodeJS.ProcessEnv },
): Promise<void> {
  if (!actsAsRootFor(as)) return assertStatePathsApart(args.statePaths, args.root, args.env);
  const root = await fs.realpath(args.root).catch(() => path.resolve(args.root));
  await onStateSide(as, 'apart', [], { statePaths: [...args.statePaths], root, env: args.env });
}
