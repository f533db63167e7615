/**
 * Every root of the host (`--all`): the roots the host's lists name (store/roots-registry.ts), and one command run on
 * each in turn, a root at a time. The command is the caller's (the CLI hands in the very per-root command it runs
 * without `--all`), so each root's transaction is recorded in its own root, under its own lock, as it always is. For a
 * rollout (`update`, `rollback`) the canary goes first, and the run stops at the canary's failure or at the
 * `maxFailures`-th failure.
 */
import path from 'node:path';
import { ExitCode, ReleaseSwitcherError, isReleaseSwitcherError, worstExitCode } from '../model/errors.js';
import { type RegisteredRoot, type RootsOptions, filesOf, registeredRoots } from '../store/listed-roots.js';
import { forgetRootsIn, rootsFileFor } from '../store/roots-registry.js';

export {
  type RegisteredRoot,
  type RegisteredRoots,
  type RootsOptions,
  registeredRoots,
} from '../store/listed-roots.js';

export interface ForgetOptions extends RootsOptions {
  /** Roots to take off the lists. @default none */
  roots?: string[];
  /** Also every listed root that no longer exists. @default false */
  missing?: boolean;
}

export interface ForgetResult {
  forgotten: Array<{ root: string; file: string }>;
}

/**
 * Take roots off the lists (never touching the roots themselves): this account's list, and the host's when it may
 * write it (root). A root that is no longer listed anywhere is not an error: there is nothing left to forget.
 */
export async function forget(options: ForgetOptions): Promise<ForgetResult> {
  const files = filesOf(options);
  const wanted = new Set((options.roots ?? []).map((r) => path.resolve(r)));
  if (options.missing)
    for (const r of (await registeredRoots({ files })).roots) if (r.state === 'missing') wanted.add(r.root);
  const writable = rootsFileFor(files) === files.system ? [files.own, files.system] : [files.own];
  const forgotten: ForgetResult['forgotten'] = [];
  for (const file of [...new Set(writable)])
    for (const root of await forgetRootsIn(file, [...wanted])) forgotten.push({ root, file });
  return { forgotten };
}

/** One root's outcome under `--all`. */
export interface RootOutcome {
  root: string;
  /**
   * The transaction's status when the command ran one; else `ok`, `failed`, `busy` (its lock was held: a failure),
   * `missing` (listed, gone: exit 1), `untrusted` (not the folder listed, or another account's to write or replace:
   * never run, exit 1), `skipped` (not readable by this account: not run, exit 0) or `not_run` (the rollout stopped
   * before it).
   */
  status: string;
  exitCode: number;
  /** The error's code when it failed. */
  code?: string;
  message?: string;
  hint?: string;
  /** The transaction it ran (update, rollback). */
  transaction?: unknown;
  /** What the command returned otherwise (status, list, doctor, check). */
  result?: unknown;
}

export interface AcrossRootsOptions {
  roots: RegisteredRoot[];
  /** The per-root command: its result and exit code, or it throws as it would alone. */
  run: (root: string) => Promise<{ result: unknown; exitCode?: number }>;
  /**
   * A rollout (update, rollback): the canary first, then stop at the canary's failure or the `maxFailures`-th.
   * @default none: every root runs, whatever fails
   */
  rollout?: { canary?: string; maxFailures?: number };
  /** Told before each root runs. @default none */
  onRoot?: (root: string, index: number, count: number) => void;
}

export interface AcrossRootsResult {
  roots: RootOutcome[];
  /** The root that went first in a rollout. */
  canary: string | null;
  failures: number;
  /** @default 1 (in a rollout; null otherwise) */
  maxFailures: number | null;
  /** Whether a rollout stopped before every root ran. */
  stopped: boolean;
  /** The worst of the roots' exit codes (EXIT_SEVERITY). */
  exitCode: number;
}

/**
 * Run `run` on each of `roots`, a root at a time, in their order (a rollout's canary first). A root that is missing is
 * reported (exit 1), one this account cannot read is skipped (exit 0); neither runs nor counts as a failure.
 */
export async function acrossRoots(options: AcrossRootsOptions): Promise<AcrossRootsResult> {
  const { rollout } = options;
  const maxFailures = rollout ? (rollout.maxFailures ?? 1) : null;
  const order = ordered(options.roots, rollout?.canary);
  const canary = rollout ? (order.find((r) => r.state === 'ready')?.root ?? null) : null;
  const runnable = order.filter((r) => r.state === 'ready').length;
  const outcomes: RootOutcome[] = [];
  let failures = 0;
  let ran = 0;
  let stopped = false;
  for (const entry of order) {
    if (entry.state !== 'ready') {
      outcomes.push(notRunnable(entry));
      continue;
    }
    if (stopped) {
      outcomes.push({ root: entry.root, status: 'not_run', exitCode: ExitCode.ok });
      continue;
    }
    options.onRoot?.(entry.root, ran++, runnable);
    const outcome = await runOne(entry.root, options.run);
    outcomes.push(outcome);
    if (outcome.exitCode === ExitCode.ok) continue;
    failures++;
    if (rollout && (entry.root === canary || failures >= (maxFailures ?? 1))) stopped = true;
  }
  stopped &&= outcomes.some((o) => o.status === 'not_run');
  return {
    roots: outcomes,
    canary,
    failures,
    maxFailures,
    stopped,
    exitCode: worstExitCode(outcomes.map((o) => o.exitCode)),
  };
}

function ordered(roots: RegisteredRoot[], canary: string | undefined): RegisteredRoot[] {
  if (canary === undefined) return roots;
  const wanted = path.resolve(canary);
  const first = roots.find((r) => r.root === wanted);
  if (first?.state !== 'ready')
    throw new ReleaseSwitcherError(
      'USAGE',
      first ? `--canary ${wanted} is ${first.state}.` : `--canary ${wanted} is not a listed root.`,
      { hint: 'The canary is one of the roots --all runs on: release-switcher status --all lists them.' },
    );
  return [first, ...roots.filter((r) => r !== first)];
}

function notRunnable(entry: RegisteredRoot): RootOutcome {
  if (entry.state === 'untrusted')
    return {
      root: entry.root,
      status: 'untrusted',
      exitCode: ExitCode.failed,
      code: entry.refusal?.code ?? 'PERMISSION_DENIED',
      message: entry.refusal?.message ?? `${entry.root} is not trusted.`,
      ...(entry.refusal?.hint ? { hint: entry.refusal.hint } : {}),
    };
  // Gone, on a list only root edits (the host's, for a normal account): said, not a failure of this account's run.
  if (entry.state === 'missing' && !entry.editable)
    return {
      root: entry.root,
      status: 'missing',
      exitCode: ExitCode.ok,
      code: 'NOT_INITIALIZED',
      message: `${entry.root} is listed in ${entry.file} but is no root any more; that list is not this account's to edit.`,
      hint: `sudo release-switcher forget ${entry.root} (or sudo release-switcher forget --missing) takes it off the list.`,
    };
  if (entry.state === 'missing')
    return {
      root: entry.root,
      status: 'missing',
      exitCode: ExitCode.failed,
      code: 'NOT_INITIALIZED',
      message: `${entry.root} is listed in ${entry.file} but is no root any more.`,
      hint: `release-switcher forget ${entry.root} (or forget --missing) takes it off the list.`,
    };
  return {
    root: entry.root,
    status: 'skipped',
    exitCode: ExitCode.ok,
    code: 'PERMISSION_DENIED',
    message: `${entry.root} (listed in ${entry.file}) is not readable by this account; skipped.`,
    hint: 'Run it as its owner, or as root.',
  };
}

const isTransaction = (value: unknown): value is { status: string; reason?: string } =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { id?: unknown }).id === 'string' &&
  typeof (value as { kind?: unknown }).kind === 'string' &&
  typeof (value as { status?: unknown }).status === 'string';

async function runOne(root: string, run: AcrossRootsOptions['run']): Promise<RootOutcome> {
  try {
    const { result, exitCode = ExitCode.ok } = await run(root);
    if (!isTransaction(result)) return { root, status: exitCode === 0 ? 'ok' : 'failed', exitCode, result };
    return {
      root,
      status: result.status,
      exitCode,
      ...(exitCode !== 0 && result.reason ? { code: result.reason } : {}),
      transaction: result,
    };
  } catch (error) {
    const known = isReleaseSwitcherError(error)
      ? error
      : new ReleaseSwitcherError('INTERNAL', (error as Error)?.message ?? String(error), { cause: error });
    const status = known.code === 'BUSY' ? 'busy' : isTransaction(known.result) ? known.result.status : 'failed';
    return {
      root,
      status,
      exitCode: known.exitCode,
      code: known.code,
      message: known.message,
      ...(known.hint ? { hint: known.hint } : {}),
      ...(known.result === undefined
        ? {}
        : isTransaction(known.result)
          ? { transaction: known.result }
          : { result: known.result }),
    };
  }
}
