/**
 * OpenClaw's schema check for a supervisor ("Preflight a target release", docs/reference/database-schemas): before a
 * release is activated or rolled back to, that release's own `database preflight <copy> --json` judges one
 * consolidated copy of the shared state database (no `-wal`/`-shm`/`-journal` beside it; sidecars make it
 * `indeterminate`). The copy is made with `VACUUM INTO` (one read transaction: a database written meanwhile still
 * yields one committed state) on the service's Node, which has `node:sqlite` (ours may be Node 20, which has not).
 * Measured on 2026.9.5 → 2026.9.6: 9.6 calls a 9.5 database `migration-required` (schema 17 → 18); 9.5 calls a
 * database 9.6 has migrated `incompatible`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { jsonDocumentIn, runCaptured, tail } from '../platform/subprocess.js';
import { type RunAs, makeDirFor } from '../platform/run-as.js';
import { hasSqliteHeader } from '../snapshot/state-paths.js';

/** OpenClaw's five, and `unavailable`: the release has no such command (older than the contract), so it cannot judge. */
export type DatabaseStatus =
  | 'exact'
  | 'startup-repairable'
  | 'migration-required'
  | 'incompatible'
  | 'indeterminate'
  | 'unavailable';

/** What one database's preflight said; `status` is `indeterminate` when the answer could not be had or read. */
export interface DatabaseVerdict {
  database: string;
  status: DatabaseStatus;
  targetVersion?: number;
  foundVersion?: number;
  issues?: unknown[];
  /** Why the verdict is `indeterminate` (the copy failed) or `unavailable` (no verdict: exit code, output). */
  detail?: string;
}

const SCHEMA = 'openclaw.state-schema-preflight.v1';
const STATUSES: readonly string[] = [
  'exact',
  'startup-repairable',
  'migration-required',
  'incompatible',
  'indeterminate',
];
/** A cold start of the CLI is 3–9 s at idle; far more under load. */
const PREFLIGHT_TIMEOUT_MS = 180_000;
const COPY_SCRIPT = [
  "const { DatabaseSync } = require('node:sqlite');",
  'const db = new DatabaseSync(process.argv[1], { readOnly: true });',
  "try { db.exec('PRAGMA busy_timeout = 10000'); db.prepare('VACUUM INTO ?').run(process.argv[2]); } finally { db.close(); }",
].join('\n');

/** Verdicts that stop a flip before anything changes (`unavailable` does not: the rehearsal and verify still judge). */
export function refuses(verdict: DatabaseVerdict): boolean {
  return verdict.status === 'incompatible' || verdict.status === 'indeterminate';
}

export interface DatabasePreflightRequest {
  /** The service's Node (has `node:sqlite`), which also runs the target's CLI. */
  node: string;
  /** The target release's folder. */
  releaseDir: string;
  /** The check inside the release (its first word a path in it), `{file}` standing for the copy. */
  args: readonly string[];
  /** The live databases to judge. */
  databases: readonly string[];
  /** A private folder for the copies; removed afterwards. */
  workDir: string;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal | undefined;
  /** The account it runs as (the service's). @default this process's */
  as?: RunAs | undefined;
}

export async function databasePreflight(request: DatabasePreflightRequest): Promise<DatabaseVerdict[]> {
  await makeDirFor(request.workDir, request.as); // the check writes its copies there, as the service's account
  try {
    const verdicts: DatabaseVerdict[] = [];
    for (const [index, database] of request.databases.entries())
      verdicts.push(await judge(request, database, path.join(request.workDir, `${index}-${path.basename(database)}`)));
    return verdicts;
  } finally {
    await fs.rm(request.workDir, { recursive: true, force: true });
  }
}

async function judge(request: DatabasePreflightRequest, database: string, copy: string): Promise<DatabaseVerdict> {
  const options = { env: request.env, timeoutMs: PREFLIGHT_TIMEOUT_MS, signal: request.signal, as: request.as };
  // A file by the database's name that SQLite would not open as one (no header; an empty file is an empty database):
  // no schema to judge. The same file is what the running release uses now; the rehearsal judges the target on it.
  if (!(await isDatabaseFile(database)))
    return { database, status: 'unavailable', detail: 'not a SQLite database (no SQLite header): no schema to judge' };
  const copied = await runCaptured(request.node, ['--no-warnings', '-e', COPY_SCRIPT, database, copy], options);
  // Not a verdict on the state: the service's Node cannot make the copy (no node:sqlite before Node 22.5).
  if (copied.failed && /No such built-in module: node:sqlite/.test(copied.output))
    return { database, status: 'unavailable', detail: `${request.node} has no node:sqlite to make the copy with` };
  if (copied.failed)
    return { database, status: 'indeterminate', detail: `consolidated copy failed: ${tail(copied.output, 3)}` };
  const [script, ...rest] = request.args;
  const args = [path.join(request.releaseDir, script!), ...rest.map((word) => (word === '{file}' ? copy : word))];
  const answer = await runCaptured(request.node, args, options);
  const json = jsonDocumentIn(answer.output);
  const status =
    json?.schema === SCHEMA && typeof json.status === 'string' && STATUSES.includes(json.status)
      ? json.status
      : undefined;
  // No answer in the contract's shape: a release from before it (a rollback to one must stay possible).
  if (!status)
    return {
      database,
      status: 'unavailable',
      detail: `database preflight gave no verdict (exit ${answer.exitCode ?? 'none'}): ${tail(answer.output, 3)}`,
    };
  return {
    database,
    status: status as DatabaseStatus,
    ...(typeof json!.targetVersion === 'number' && { targetVersion: json!.targetVersion }),
    ...(typeof json!.foundVersion === 'number' && { foundVersion: json!.foundVersion }),
    ...(Array.isArray(json!.issues) && json!.issues.length > 0 && { issues: json!.issues }),
  };
}

/** The JSON object in a combined stdout/stderr (warnings may come before or after it). */
async function isDatabaseFile(file: string): Promise<boolean> {
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat) return true; // gone since it was listed: the copy says so
  return stat.size === 0 || (await hasSqliteHeader(file));
}
