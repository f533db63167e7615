/**
 * A release's own schema check of the service's state databases, as a supervisor runs it before a release is
 * activated or rolled back to: one consolidated copy of each database (no `-wal`/`-shm`/`-journal` beside it), made
 * with `VACUUM INTO` (one read transaction: a database written meanwhile still yields one committed state) on the
 * service's Node, which has `node:sqlite` (ours may be Node 20, which has not), as the service's account, from the live
 * file or a checkpoint's (database-copy.ts): root acting for the account reads none of the account's files. The
 * check's command and how its answer reads are the preset's (`DatabaseAnswer`; openclaw's: presets/openclaw/
 * database-preflight.ts); the verdicts' words are the record's.
 */
import path from 'node:path';
import { type RunResult, runCaptured, tail } from '../platform/subprocess.js';
import { type RunAs, makeDirFor } from '../platform/run-as.js';
import { letAccountPass, removeHandedDir } from '../platform/handed-dir.js';
import { consolidatedCopy } from './database-copy.js';

/**
 * How the release judges the state it would start on (OpenClaw's five words), and `unavailable`: the release has no
 * such check (older than the contract), so it cannot judge.
 */
export type DatabaseStatus =
  | 'exact'
  | 'startup-repairable'
  | 'migration-required'
  | 'incompatible'
  | 'indeterminate'
  | 'unavailable';

/**
 * What one database's preflight said; `status` is `indeterminate` when the answer could not be had or read (the copy
 * failed, the check crashed, timed out or answered out of its schema).
 */
export interface DatabaseVerdict {
  database: string;
  /** An agent's database: its canonical id (judged by `preflight-agent`). */
  agentId?: string;
  /** Judged from a checkpoint's copy (the state the target will start with once it is put back), not the live file. */
  checkpoint?: string;
  status: DatabaseStatus;
  targetVersion?: number;
  foundVersion?: number;
  issues?: unknown[];
  /** Why the verdict is `indeterminate` (the copy failed) or `unavailable` (no verdict: exit code, output). */
  detail?: string;
}

/** A cold start of the CLI is 3–9 s at idle; far more under load. */
const PREFLIGHT_TIMEOUT_MS = 180_000;
/** Verdicts that stop a flip before anything changes (`unavailable` does not: the rehearsal and verify still judge). */
export function refuses(verdict: DatabaseVerdict): boolean {
  return verdict.status === 'incompatible' || verdict.status === 'indeterminate';
}

/** One database to judge, and how. */
export interface DatabaseCheck {
  /** The live path (what the verdict names). */
  database: string;
  /**
   * The check inside the release (its first word a path in it), `{file}` standing for the copy and `{agent}` for
   * `agentId`.
   */
  args: readonly string[];
  agentId?: string;
  /**
   * Where to read it instead of the live path: its copy in a checkpoint (with the companions stored beside it), in
   * `within` (the checkpoint's `data/`, a folder of the root's own): copied out by the service's account, never opened
   * in place (a read would leave a `-shm` in it).
   */
  readFrom?: { file: string; checkpoint: string; within: string };
}

export interface DatabasePreflightRequest {
  /** The service's Node (has `node:sqlite`), which also runs the target's CLI. */
  node: string;
  /** The target release's folder. */
  releaseDir: string;
  databases: readonly DatabaseCheck[];
  /** A private folder for the copies; removed afterwards. */
  workDir: string;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal | undefined;
  /** The account it runs as (the service's). @default this process's */
  as?: RunAs | undefined;
  /** For each copy and each check. @default 180 s (a cold start of the CLI under load) */
  timeoutMs?: number;
  /** How the release's answer reads: the preset's. */
  answer: DatabaseAnswer;
}

/** What a database's check answered, read by the preset: a verdict without its names, never a throw. */
export type DatabaseAnswer = (
  answer: Pick<RunResult, 'exitCode' | 'output' | 'timedOut'>,
  check: Pick<DatabaseCheck, 'agentId'>,
) => Omit<DatabaseVerdict, 'database' | 'agentId' | 'checkpoint'>;

export async function databasePreflight(request: DatabasePreflightRequest): Promise<DatabaseVerdict[]> {
  await makeDirFor(request.workDir, request.as); // the check writes its copies there, as the service's account
  await letAccountPass(path.dirname(request.workDir), request.as); // root's <root>/preflight: passable to it, no more
  try {
    const verdicts: DatabaseVerdict[] = [];
    for (const [index, check] of request.databases.entries())
      verdicts.push(
        await judge(request, check, path.join(request.workDir, `${index}-${path.basename(check.database)}`)),
      );
    return verdicts;
  } finally {
    await removeHandedDir(request.workDir); // the account's copies, removed by the account: root follows none of its links
  }
}

async function judge(request: DatabasePreflightRequest, check: DatabaseCheck, copy: string): Promise<DatabaseVerdict> {
  const { database, agentId, readFrom } = check;
  const named: Pick<DatabaseVerdict, 'database' | 'agentId' | 'checkpoint'> = {
    database,
    ...(agentId !== undefined && { agentId }),
    ...(readFrom && { checkpoint: readFrom.checkpoint }),
  };
  const options = { env: request.env, timeoutMs: timeoutOf(request), signal: request.signal, as: request.as };
  const copied = await consolidatedCopy({
    ...options,
    node: request.node,
    file: readFrom?.file ?? database,
    stored: readFrom && { within: readFrom.within },
    copy,
  });
  // A file by the database's name that SQLite would not open as one (no header; an empty file is an empty database):
  // no schema to judge. The same file is what the running release uses now; the rehearsal judges the target on it.
  if ('notDatabase' in copied)
    return { ...named, status: 'unavailable', detail: 'not a SQLite database (no SQLite header): no schema to judge' };
  const failed = 'failed' in copied ? copied.failed.output : undefined;
  // Not a verdict on the state: the service's Node cannot make the copy (no node:sqlite before Node 22.5).
  if (failed !== undefined && /No such built-in module: node:sqlite/.test(failed))
    return { ...named, status: 'unavailable', detail: `${request.node} has no node:sqlite to make the copy with` };
  if (failed !== undefined)
    return { ...named, status: 'indeterminate', detail: `consolidated copy failed: ${failureOf(failed)}` };
  const [script, ...rest] = check.args;
  const args = [
    path.join(request.releaseDir, script!),
    ...rest.map((word) => (word === '{file}' ? copy : word === '{agent}' ? (agentId ?? '') : word)),
  ];
  const answer = await runCaptured(request.node, args, options);
  if (answer.timedOut)
    return {
      ...named,
      status: 'indeterminate',
      detail: `database preflight timed out after ${timeoutOf(request) / 1000} s`,
    };
  return { ...named, ...request.answer(answer, check) };
}

const timeoutOf = (request: DatabasePreflightRequest) => request.timeoutMs ?? PREFLIGHT_TIMEOUT_MS;

/**
 * What a failed Node process said: its error's own line (`Error: …`, `SqliteError: …`) when it printed a stack, which
 * ends with the stack and Node's version rather than the reason; else its last lines.
 */
export function failureOf(output: string): string {
  const reason = output
    .split('\n')
    .map((line) => line.trim())
    .find((line) => /^([A-Z]\w*)?Error(\s\[\w+\])?:\s/.test(line) || /^error:\s/.test(line));
  return reason ?? tail(output, 3);
}
