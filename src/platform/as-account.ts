/**
 * Work on another account's files done with that account's rights: root acting for a service account never reads or
 * writes under the account's home or state itself (a link the account planted, a folder swapped for a link between a
 * check and a use, a file root creates there: each has handed the account root). It starts a worker of ours instead:
 * our own Node by absolute path, our own script, an empty environment (no NODE_OPTIONS, no PATH of the account's), the
 * working directory `/`. The worker reads its request on stdin, then drops to the account (its supplementary groups
 * from the group database, its gid, its uid: process.initgroups/setgid/setuid) before it touches anything, and the
 * kernel enforces the boundary from there. Changing its credentials itself (not through setpriv and an exec) leaves it
 * non-dumpable: the account cannot ptrace it or open its descriptors through /proc.
 *
 * Folders of the root's own tree it needs (a checkpoint's `data/`) are handed over as descriptors (fd 3 and on),
 * opened without following links; the worker reaches them as `/proc/self/fd/N`, while their root-only parents keep
 * the account out of them by path once it has exited.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import { ErrorCodes, type ErrorCode, ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import type { RunAs } from './run-as.js';
import { runCaptured } from './subprocess.js';

/** Whether work on `who`'s files must go through a worker: this process is root and `who` is another account. */
export function actsAsRootFor(who: RunAs | undefined): who is RunAs {
  return who !== undefined && process.getuid?.() === 0 && who.uid !== 0;
}

/**
 * A folder handed to a worker, as the worker names it: `/proc/self/fd/<n>/.`, the folder itself (the bare magic link
 * would be refused by an open that follows no link, as fsyncing the folder does).
 */
export const handedDir = (n: number) => `/proc/self/fd/${n}/.`;

/**
 * A folder of root's own tree for `who` to write in: made (0700) unless it is there, checked to be a real folder (a
 * link is refused, never followed), given to `who` through its descriptor (fchown, no path), and returned open.
 */
export async function openDirFor(dir: string, who: RunAs): Promise<fs.FileHandle> {
  await fs.mkdir(dir, { mode: 0o700 }).catch((error: unknown) => {
    if (errnoOf(error) !== 'EEXIST') throw error;
  });
  const handle = await fs.open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    const stat = await handle.stat();
    if (stat.uid !== who.uid || stat.gid !== who.gid) await handle.chown(who.uid, who.gid);
    if ((stat.mode & 0o7777) !== 0o700) await handle.chmod(0o700);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

export interface WorkerOptions {
  /** Our worker script, by absolute path. */
  script: string;
  /** Folders handed over, as fd 3, 4, … in this order. */
  dirs?: readonly fs.FileHandle[];
  /** Milliseconds before the worker is killed. */
  timeoutMs: number;
  /** Variables the worker keeps (fault injection in tests); nothing else of this environment reaches it. */
  env?: NodeJS.ProcessEnv;
}

/** Run `op` with `args` as `who` in a worker; its JSON answer, or its error (code, message, hint) thrown again. */
export async function runAsAccount(who: RunAs, op: string, args: unknown, options: WorkerOptions): Promise<unknown> {
  const result = await runCaptured(process.execPath, ['--no-warnings', options.script], {
    cwd: '/',
    env: { ...options.env },
    timeoutMs: options.timeoutMs,
    input: JSON.stringify({ account: { name: who.name, uid: who.uid, gid: who.gid }, op, args }),
    fds: (options.dirs ?? []).map((h) => h.fd),
  });
  const answer = parse(result.output.split('\n').findLast((line) => line.startsWith(ANSWER)));
  if (answer?.ok === true) return answer.result;
  const e = answer?.error;
  if (e && typeof e.code === 'string' && e.code in ErrorCodes)
    throw new ReleaseSwitcherError(e.code as ErrorCode, String(e.message), { hint: String(e.hint ?? '') });
  throw new ReleaseSwitcherError(
    'STATE_COPY_FAILED',
    `The work on ${who.name}'s state, done as ${who.name} (${op}), ended without an answer (${result.timedOut ? 'timed out' : `exit ${result.exitCode}`}): ${result.output.trim().slice(-400)}`,
    {
      hint: `Check that ${who.name} can read and write its state paths (ls -la as ${who.name}); nothing was switched.`,
    },
  );
}

/** How the worker's one answer line starts (anything else on its output is a warning of Node's). */
export const ANSWER = '{"ok":';

function parse(
  line: string | undefined,
): { ok?: boolean; result?: unknown; error?: Record<string, unknown> } | undefined {
  try {
    return line === undefined
      ? undefined
      : (JSON.parse(line) as { ok?: boolean; result?: unknown; error?: Record<string, unknown> });
  } catch {
    return undefined;
  }
}
