/**
 * SQLite databases compared and merged by table, for finalize done ahead (transaction/finalize-ahead-step.ts). A
 * service's database is written both by its finalize (a schema migration, new rows) and by the running service (a
 * lease taken and released, a boot record): as one file the two always collide. By table they mostly do not: the
 * tables the live service changed since the copy are copied over the finalized database's when finalize left them
 * alone (same rows, same schema); a table both changed goes row by row (by primary key, against the copy as made), also
 * across the target's migration of it where that only added columns and derived none of their values (what ALTER TABLE
 * ADD COLUMN gives a row is then what the target's migration would have given the service's rows). A row both changed
 * differently is a conflict, and finalize runs in the window.
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
// A folder written in is reached by no link (the paths handed are real ones: the state folder's real path and our
// folders in it), so a link the account planted on the way is refused here, as the account, not written through.
function noLinkTo(file) {
  const fs = require('node:fs');
  const dir = require('node:path').dirname(file);
  const real = fs.realpathSync(dir);
  if (real !== dir) throw new Error(dir + ' leads to ' + real + ' (a link on its way): not written');
  if (fs.lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink()) throw new Error(file + ' is a link: not written');
}
const text = (row) => row === undefined ? undefined : JSON.stringify(row, (_, v) => typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v);
// The service's writes carried into the finalized database (main): whole tables finalize left alone, and row by row
// (by primary key) in tables both changed, where a row both changed differently is a conflict and nothing is kept.
function merge({ into, from, base, whole, rows, migrated = [], owned = [], liveOwned = [] }) {
  noLinkTo(into);
  const db = new DatabaseSync(into);
  try {
    db.exec('PRAGMA foreign_keys = OFF');
    db.prepare('ATTACH DATABASE ? AS live').run('file:' + encodeURI(from) + '?mode=ro');
    if (rows.length + migrated.length > 0) db.prepare('ATTACH DATABASE ? AS base').run('file:' + encodeURI(base) + '?mode=ro');
    db.exec('BEGIN IMMEDIATE');
    const conflicts = [], carried = {}, kept = [];
    for (const table of whole) {
      db.exec('DELETE FROM main.' + quote(table));
      db.exec('INSERT INTO main.' + quote(table) + ' SELECT * FROM live.' + quote(table));
      carried[table] = 'whole';
    }
    for (const table of [...rows, ...migrated]) {
      const columns = (schema) => db.prepare('SELECT name, type, "notnull" AS nn, dflt_value AS dflt, pk FROM pragma_table_info(?, ?)').all(table, schema);
      const mine = columns('main'), theirs = columns('base');
      const pk = mine.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
      if (pk.length === 0) { conflicts.push(table + ' (no primary key)'); continue; }
      // Across the target's migration of the table (\`migrated\`): only one that added columns, every old column as it
      // was (name, type, NOT NULL, default, key), the live rows then take what ADD COLUMN gives them (the default).
      const shared = theirs.map((c) => c.name);
      const added = mine.filter((c) => !shared.includes(c.name));
      const same = (a, b) => a && b && a.type === b.type && a.nn === b.nn && a.dflt === b.dflt && a.pk === b.pk;
      if (migrated.includes(table) && !theirs.every((c) => same(c, mine.find((m) => m.name === c.name)))) { conflicts.push(table + ' (its migration changed a column, not only added)'); continue; }
      const fresh = Object.fromEntries(added.map((c) => [c.name, c.dflt === null ? null : db.prepare('SELECT ' + c.dflt + ' AS v').get().v]));
      const pick = (row) => row && Object.fromEntries(shared.map((c) => [c, row[c]]));
      const keyOf = (row) => JSON.stringify(pk.map((c) => text(row[c])));
      const read = (schema) => new Map(db.prepare('SELECT * FROM ' + schema + '.' + quote(table)).all().map((row) => [keyOf(row), row]));
      const B = read('base'), L = read('live'), F = read('main');
      // The migration derived nothing: every row finalize carried over has the added columns at ADD COLUMN's value.
      // Else it computed them from the old columns, which the service's rows would need too: finalize in the window.
      const derived = added.length > 0 && ([...B.keys()].filter((k) => F.has(k)).length === 0 ||
        [...B.keys()].some((k) => F.has(k) && added.some((c) => text(F.get(k)[c.name]) !== text(fresh[c.name]))));
      const changes = [];
      for (const key of new Set([...B.keys(), ...L.keys()])) {
        const b = text(B.get(key)), l = text(L.get(key)), f = text(pick(F.get(key)));
        if (b === l) continue; // the service left it
        if (f === l && (added.length === 0 || !F.has(key) || added.every((c) => text(F.get(key)[c.name]) === text(fresh[c.name])))) continue; // both made it the same
        const theirs = liveOwned.includes(table); // a row both changed: the live service's stands
        if (f !== b && !theirs && owned.includes(table)) { kept.push(table + key); continue; } // finalize's stands
        if (f !== b && !theirs) { conflicts.push(table + key); continue; } // finalize changed it too, differently
        if (derived) { conflicts.push(table + key + ' (its migration derived the added columns)'); continue; }
        changes.push(key);
      }
      const where = pk.map((c) => quote(c) + ' IS ?').join(' AND ');
      const list = shared.map(quote).join(', ');
      for (const key of changes) {
        const values = JSON.parse(key).map((v, i) => (L.get(key) ?? B.get(key))[pk[i]]);
        db.prepare('DELETE FROM main.' + quote(table) + ' WHERE ' + where).run(...values);
        if (L.has(key)) db.prepare('INSERT INTO main.' + quote(table) + ' (' + list + ') SELECT ' + list + ' FROM live.' + quote(table) + ' WHERE ' + where).run(...values);
      }
      carried[table] = changes.length;
    }
    if (conflicts.length > 0) { db.exec('ROLLBACK'); return { conflicts, carried: {}, kept: [] }; }
    db.exec('COMMIT');
    return { conflicts, carried, kept };
  } finally {
    db.close();
  }
}
let answer;
try {
  answer = request.op === 'digest'
    ? Object.fromEntries(request.files.map((file) => [file, digest(file)]))
    : request.op === 'keep'
      ? request.files.map(([from, to]) => { require('node:fs').mkdirSync(require('node:path').dirname(to), { recursive: true, mode: 0o700 }); noLinkTo(to); const db = new DatabaseSync(from, { readOnly: true }); try { db.prepare('VACUUM INTO ?').run(to); } finally { db.close(); } return to; })
      : merge(request);
} catch (error) {
  // Its message alone is what the step records (a stack's last lines would hide it).
  process.stderr.write('\n' + (error instanceof Error ? error.message : String(error)) + '\n');
  process.exit(1);
}
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

/** Each database `[from, to]` copied consolidated (SQLite's `VACUUM INTO`), `to`'s folder made: a base to merge against. */
export async function keepDatabases(
  node: string,
  files: ReadonlyArray<readonly [string, string]>,
  as: RunAs | undefined,
): Promise<void> {
  if (files.length > 0) await runScript(node, { op: 'keep', files }, as);
}

/**
 * The service's writes carried into `into` (the finalized database) from `from` (the live one, read only), in one
 * transaction: `whole` tables copied over, `rows` tables row by row against `base` (the database as copied). A row both
 * changed differently is a conflict: then nothing is written, and the conflicts (`table["key"]`) are returned.
 */
export async function mergeTables(
  node: string,
  at: {
    into: string;
    from: string;
    base: string;
    whole: readonly string[];
    rows: readonly string[];
    /**
     * Tables the target's migration changed the shape of, row by row as `rows`, taken only where the migration added
     * columns and derived none of their values (checked against the rows finalize migrated); else a conflict.
     */
    migrated?: readonly string[];
    /** Tables where a row both changed keeps finalize's version (returned in `kept`), not a conflict. */
    owned?: readonly string[];
    /** Tables where a row both changed keeps the live service's version (counted in `carried`), not a conflict. */
    liveOwned?: readonly string[];
  },
  as: RunAs | undefined,
): Promise<{ conflicts: string[]; carried: Record<string, 'whole' | number>; kept: string[] }> {
  if (at.whole.length === 0 && at.rows.length === 0 && (at.migrated ?? []).length === 0)
    return { conflicts: [], carried: {}, kept: [] };
  return (await runScript(node, { op: 'merge', ...at }, as)) as {
    conflicts: string[];
    carried: Record<string, 'whole' | number>;
    kept: string[];
  };
}

/** The rows part of the digest of a table without a row (the SHA-256 of nothing). */
const NO_ROWS = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The tables whose digests differ between `a` and `b` (one absent from either counts). */
export function changedTables(a: TableDigests, b: TableDigests): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((t) => a[t] !== b[t]).sort();
}

/**
 * How the finalized database takes the live service's writes, table by table: `merge` whole the tables the service
 * changed and finalize did not (same schema), `rows` those both changed (same schema: row by row, mergeTables),
 * `superseded` those both changed that the target's finalize owns and restructured (the preset's `owned`: its version
 * stands; an owned table it kept the shape of goes row by row, a row both changed keeping finalize's), `migrated` those
 * both changed whose shape the target's migration changed (row by row where it only added columns: mergeTables checks),
 * and the `conflicts` that leave it to finalize in the window (the live database migrated, a table dropped, a schema
 * the service changed). A table both changed to the same (both created it alike) is none of them: nothing to carry.
 */
export function tableMerge(
  digests: {
    /** The live database when the copy was made. */
    base: TableDigests;
    /** The copy as finalize met it (after the copy's prepare step). */
    prepared: TableDigests;
    /** The copy as finalize left it. */
    finalized: TableDigests;
    /** The live database after the stop. */
    live: TableDigests;
  },
  owned: readonly string[] = [],
): { merge: string[]; rows: string[]; migrated: string[]; superseded: string[]; conflicts: string[] } {
  const { base, prepared, finalized, live } = digests;
  const byFinalize = new Set(changedTables(prepared, finalized));
  const byService = changedTables(base, live);
  const schema = (d: TableDigests, t: string) => d[t]?.split(':')[0];
  const out = {
    merge: [] as string[],
    rows: [] as string[],
    migrated: [] as string[],
    superseded: [] as string[],
    conflicts: [] as string[],
  };
  /** The service wrote it in the shape finalize met, and finalize (its migration) gave it another. */
  const reshaped = (t: string) =>
    byFinalize.has(t) &&
    finalized[t] !== undefined &&
    live[t] !== undefined &&
    schema(base, t) === schema(live, t) &&
    schema(prepared, t) === schema(base, t) &&
    schema(finalized, t) !== schema(live, t);
  for (const t of byService) {
    // Both changed it, to the same (schema and rows): the finalized one is already the service's, nothing to carry.
    if (t !== '#user_version' && byFinalize.has(t) && live[t] !== undefined && live[t] === finalized[t]) continue;
    // A table without a row in the service's hands, before and after (created, or altered, empty): nothing of the
    // service's to carry, whatever shape each gave it; finalize's version stands, or its absence (a target makes such
    // a table when it needs it, as a fresh install of it must). OpenClaw 2026.9.5 makes its `user_profiles` tables
    // lazily while it serves (`CREATE TABLE IF NOT EXISTS`, then ALTERs adding columns), as 2026.9.6 does (measured in
    // the outage bench: three such tables, each without a row, forced finalize into the window).
    const empty = (d: TableDigests) => d[t] === undefined || d[t]!.split(':')[1] === NO_ROWS;
    if (t !== '#user_version' && empty(base) && live[t] !== undefined && empty(live)) {
      out.superseded.push(t);
      continue;
    }
    // A table finalize owns and restructured: its version stands whole; one it kept the shape of goes row by row.
    if (byFinalize.has(t) && owned.includes(t) && schema(live, t) !== schema(finalized, t)) out.superseded.push(t);
    else if (t !== '#user_version' && reshaped(t)) out.migrated.push(t);
    else if (t === '#user_version' || live[t] === undefined || schema(live, t) !== schema(finalized, t))
      out.conflicts.push(t);
    else if (byFinalize.has(t)) out[schema(base, t) === schema(live, t) ? 'rows' : 'conflicts'].push(t);
    else out.merge.push(t);
  }
  return out;
}
