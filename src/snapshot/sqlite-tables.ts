/**
 * SQLite databases compared and merged by table, for finalize done ahead (transaction/finalize-ahead-step.ts). A
 * service's database is written both by its finalize (a schema migration, new rows) and by the running service (a
 * lease taken and released, a boot record): as one file the two always collide. By table they mostly do not: the
 * tables the live service changed since the copy are copied over the finalized database's when finalize left them
 * alone (same rows, same schema); a table both changed is a conflict, and finalize runs in the window for it.
 *
 * The work runs in the service's Node (`node:sqlite`: Node >= 22.5; ours may be older), as the state's account, from
 * the script below (`node -e SCRIPT <request JSON>`): one JSON answer on stdout.
 */
import { runCaptured, tail } from '../platform/subprocess.js';
import type { RunAs } from '../platform/run-as.js';

/** Per table: a digest of its schema and its rows (`schema:rows`), and `#user_version`. */
export type TableDigests = Record<string, string>;

const SCRIPT = String.raw`
const { DatabaseSync } = require('node:sqlite');
const { createHash } = require('node:crypto');
const request = JSON.parse(process.argv[1]);
const quote = (name) => '"' + name.replaceAll('"', '""') + '"';
const tablesOf = (db, schema = 'main') =>
  db.prepare('SELECT name, sql FROM ' + schema + ".sqlite_master WHERE type = 'table'").all();
function digest(file) {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const out = { '#user_version': String(db.prepare('PRAGMA user_version').get().user_version) };
    for (const { name, sql } of tablesOf(db)) {
      const rows = createHash('sha256');
      for (const row of db.prepare('SELECT * FROM ' + quote(name)).iterate()) rows.update(JSON.stringify(row, (_, v) => typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
      out[name] = createHash('sha256').update(sql ?? '').digest('hex').slice(0, 16) + ':' + rows.digest('hex');
    }
    return out;
  } finally { db.close(); }
}
function merge({ into, from, tables }) {
  const db = new DatabaseSync(into);
  try {
    db.exec('PRAGMA foreign_keys = OFF');
    db.prepare('ATTACH DATABASE ? AS live').run('file:' + encodeURI(from) + '?mode=ro');
    db.exec('BEGIN IMMEDIATE');
    for (const table of tables) {
      db.exec('DELETE FROM main.' + quote(table));
      db.exec('INSERT INTO main.' + quote(table) + ' SELECT * FROM live.' + quote(table));
    }
    db.exec('COMMIT');
    db.exec('DETACH DATABASE live');
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    return tables;
  } finally { db.close(); }
}
const answer = request.op === 'digest'
  ? Object.fromEntries(request.files.map((file) => [file, digest(file)]))
  : merge(request);
process.stdout.write('\n' + JSON.stringify(answer) + '\n');
`;

async function runScript(node: string, request: unknown, as: RunAs | undefined): Promise<unknown> {
  const result = await runCaptured(node, ['-e', SCRIPT, JSON.stringify(request)], {
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', NODE_OPTIONS: '' },
    timeoutMs: 300_000,
    as,
    cwd: '/',
  });
  const last = result.output.trim().split('\n').at(-1) ?? '';
  if (result.failed) throw new Error(`SQLite by table failed: ${tail(result.output, 5)}`);
  return JSON.parse(last);
}

/** The table digests of each database file, read with the account's rights. */
export async function digestTables(
  node: string,
  files: readonly string[],
  as: RunAs | undefined,
): Promise<Record<string, TableDigests>> {
  if (files.length === 0) return {};
  return (await runScript(node, { op: 'digest', files }, as)) as Record<string, TableDigests>;
}

/** `tables` of `from` (the live database, read only) copied over `into`'s, in one transaction. */
export async function mergeTables(
  node: string,
  at: { into: string; from: string; tables: readonly string[] },
  as: RunAs | undefined,
): Promise<void> {
  if (at.tables.length === 0) return;
  await runScript(node, { op: 'merge', ...at }, as);
}

/** The tables whose digests differ between `a` and `b` (one absent from either counts). */
export function changedTables(a: TableDigests, b: TableDigests): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((t) => a[t] !== b[t]).sort();
}

/**
 * How the finalized database takes the live service's writes: `merge` the tables the service changed (none of them
 * changed by finalize, their schemas the same), or the `conflicts` that leave it to finalize in the window.
 */
export function tableMerge(digests: {
  /** The live database when the copy was made. */
  base: TableDigests;
  /** The copy as finalize met it (after the copy's prepare step). */
  prepared: TableDigests;
  /** The copy as finalize left it. */
  finalized: TableDigests;
  /** The live database after the stop. */
  live: TableDigests;
}): { merge: string[]; conflicts: string[] } {
  const { base, prepared, finalized, live } = digests;
  const byFinalize = new Set(changedTables(prepared, finalized));
  const byService = changedTables(base, live);
  const schema = (d: TableDigests, t: string) => d[t]?.split(':')[0];
  const conflicts = byService.filter(
    (t) =>
      t === '#user_version' || byFinalize.has(t) || live[t] === undefined || schema(live, t) !== schema(finalized, t),
  );
  return { merge: byService.filter((t) => !conflicts.includes(t)), conflicts };
}
