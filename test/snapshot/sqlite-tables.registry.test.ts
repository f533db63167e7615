// SQLite compared and merged by table and by row (snapshot/sqlite-tables.ts), on real databases, with a Node that has
// node:sqlite (openclaw's Node 24): the base as copied, the finalized copy, the live database the service went on
// writing. The service's rows are carried into the finalized database where finalize left them; a row both changed
// differently is a conflict, and then nothing at all is written.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import {
  changedTables,
  digestTables,
  keepDatabases,
  mergeTables,
  tableMerge,
} from '../../src/snapshot/sqlite-tables.ts';
import { tempDir } from '../support/cli.ts';

const node24 = inject('sqliteNode');

function sql(file: string, statements: string): Array<Record<string, unknown>> {
  const script = `const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(process.argv[1]);
const parts = process.argv[2].split(';').map((s) => s.trim()).filter(Boolean); let rows = [];
for (const part of parts) { if (/^select/i.test(part)) rows = db.prepare(part).all(); else db.exec(part); }
process.stdout.write(JSON.stringify(rows));`;
  return JSON.parse(execFileSync(node24, ['--no-warnings', '-e', script, file, statements], { encoding: 'utf8' }));
}

/** The live database kept as the base and copied as the one finalize changes (`ready`), with the copy's digests. */
async function baseAndReady(dir: string, live: string) {
  const base = join(dir, 'base', 'live.sqlite');
  const ready = join(dir, 'ready.sqlite');
  await keepDatabases(
    node24,
    [
      [live, base],
      [live, ready],
    ],
    undefined,
  );
  return { base, ready, before: (await digestTables(node24, [ready], undefined))[ready]! };
}

/** A live database, its copy kept as the base, the copy finalized (a migration's own changes). */
async function threeDatabases() {
  const dir = tempDir('rs-sqlite-tables-');
  const live = join(dir, 'live.sqlite');
  sql(
    live,
    `CREATE TABLE leases (key TEXT PRIMARY KEY, owner TEXT); INSERT INTO leases VALUES ('gateway', 'pid 1');
     CREATE TABLE boot (id TEXT PRIMARY KEY, outcome TEXT); INSERT INTO boot VALUES ('b1', 'clean');
     CREATE TABLE meta (key TEXT PRIMARY KEY, version INTEGER); INSERT INTO meta VALUES ('primary', 17), ('startup', 3);
     CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT); INSERT INTO config VALUES ('a', 'one'), ('b', 'two')`,
  );
  const { base, ready, before } = await baseAndReady(dir, live);
  // Finalize: the migration rewrites meta, changes config row a, adds a table.
  sql(
    ready,
    `DELETE FROM meta WHERE key = 'startup'; UPDATE meta SET version = 18; UPDATE config SET value = 'ONE' WHERE key = 'a'; CREATE TABLE runs (id TEXT PRIMARY KEY)`,
  );
  const finalized = (await digestTables(node24, [ready], undefined))[ready]!;
  return { dir, live, base, ready, before, finalized };
}

describe('merging the service’s writes into a finalized database', () => {
  it('whole tables, rows finalize left, and owned tables: carried or superseded; the finalized changes kept', async () => {
    const { live, base, ready, before, finalized } = await threeDatabases();
    expect(changedTables(before, finalized)).toEqual(['config', 'meta', 'runs']);
    // The service meanwhile: its lease released, its boot recorded, config row b changed, meta re-stamped.
    sql(
      live,
      `DELETE FROM leases; INSERT INTO boot VALUES ('b2', 'planned_restart'); UPDATE config SET value = 'TWO' WHERE key = 'b'; UPDATE meta SET version = 17 WHERE key = 'startup'; UPDATE meta SET version = 17`,
    );
    sql(live, `UPDATE meta SET version = 170 WHERE key = 'startup'`);
    const now = (await digestTables(node24, [live], undefined))[live]!;
    const plan = tableMerge({ base: before, prepared: before, finalized, live: now }, ['meta']);
    expect(plan).toEqual({
      merge: ['boot', 'leases'],
      rows: ['config', 'meta'],
      migrated: [],
      superseded: [],
      conflicts: [],
    });
    const done = await mergeTables(
      node24,
      { into: ready, from: live, base, whole: plan.merge, rows: plan.rows, owned: ['meta'] },
      undefined,
    );
    // meta's row both changed keeps finalize's (it owns the table): `startup` deleted as it left it (the service's
    // `version = 17` left `primary` as it was: not a change of the service's).
    expect(done).toEqual({
      conflicts: [],
      carried: { boot: 'whole', leases: 'whole', config: 1, meta: 0 },
      kept: ['meta["\\"startup\\""]'],
    });
    expect(sql(ready, 'SELECT * FROM leases')).toEqual([]);
    expect(sql(ready, 'SELECT id FROM boot ORDER BY id')).toEqual([{ id: 'b1' }, { id: 'b2' }]);
    expect(sql(ready, 'SELECT * FROM config ORDER BY key')).toEqual([
      { key: 'a', value: 'ONE' },
      { key: 'b', value: 'TWO' },
    ]);
    expect(sql(ready, 'SELECT * FROM meta')).toEqual([{ key: 'primary', version: 18 }]);
  });

  it('a row both changed differently: a conflict named by its key, and the finalized database left as it was', async () => {
    const { live, base, ready, before, finalized } = await threeDatabases();
    sql(live, `UPDATE config SET value = 'uno' WHERE key = 'a'; INSERT INTO boot VALUES ('b2', 'x')`);
    const now = (await digestTables(node24, [live], undefined))[live]!;
    const plan = tableMerge({ base: before, prepared: before, finalized, live: now });
    expect(plan.rows).toEqual(['config']);
    const done = await mergeTables(
      node24,
      { into: ready, from: live, base, whole: plan.merge, rows: plan.rows },
      undefined,
    );
    expect(done).toEqual({ conflicts: ['config["\\"a\\""]'], carried: {}, kept: [] });
    expect(sql(ready, 'SELECT id FROM boot')).toEqual([{ id: 'b1' }]); // the whole-table copy rolled back too
    expect((await digestTables(node24, [ready], undefined))[ready]).toEqual(finalized);
  });

  it("a row both changed in a table the live service owns (a start's own record): the live one carried, no conflict; control: not named, a conflict", async () => {
    const { live, base, ready, before } = await threeDatabases();
    // The target's first start ahead closed the boot it found open and recorded its own; the serving release,
    // meanwhile, closed that same boot (its own) as it exited.
    sql(ready, `UPDATE boot SET outcome = 'unclean' WHERE id = 'b1'; INSERT INTO boot VALUES ('ahead', 'clean')`);
    const started = (await digestTables(node24, [ready], undefined))[ready]!;
    sql(live, `UPDATE boot SET outcome = 'planned_restart' WHERE id = 'b1'`);
    const now = (await digestTables(node24, [live], undefined))[live]!;
    const plan = tableMerge({ base: before, prepared: before, finalized: started, live: now });
    expect(plan.rows).toEqual(['boot']);
    const at = { into: ready, from: live, base, whole: plan.merge, rows: plan.rows };
    expect(await mergeTables(node24, at, undefined)).toEqual({
      conflicts: ['boot["\\"b1\\""]'],
      carried: {},
      kept: [],
    });
    expect((await digestTables(node24, [ready], undefined))[ready]).toEqual(started);
    expect(await mergeTables(node24, { ...at, liveOwned: ['boot'] }, undefined)).toEqual({
      conflicts: [],
      carried: { boot: 1 },
      kept: [],
    });
    expect(sql(ready, 'SELECT * FROM boot ORDER BY id')).toEqual([
      { id: 'ahead', outcome: 'clean' },
      { id: 'b1', outcome: 'planned_restart' },
    ]);
  });

  it('a folder written in reached through a link (the base kept, the finalized copy merged): refused, nothing written where it leads; control: the real folder', async () => {
    const { dir, live, base, ready } = await threeDatabases();
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(dir, 'linked'));
    await expect(keepDatabases(node24, [[live, join(dir, 'linked', 'kept.sqlite')]], undefined)).rejects.toThrow(
      /linked leads to .*elsewhere \(a link on its way\): not written/,
    );
    expect(readdirSync(elsewhere)).toEqual([]);
    const finalizedBytes = readFileSync(ready);
    symlinkSync(ready, join(elsewhere, 'ready.sqlite'));
    await expect(
      mergeTables(
        node24,
        { into: join(dir, 'linked', 'ready.sqlite'), from: live, base, whole: ['boot'], rows: [] },
        undefined,
      ),
    ).rejects.toThrow(/a link on its way/);
    expect(readFileSync(ready).equals(finalizedBytes)).toBe(true);
    // The finalized database itself a link: not written through.
    await expect(
      mergeTables(
        node24,
        { into: join(elsewhere, 'ready.sqlite'), from: live, base, whole: ['boot'], rows: [] },
        undefined,
      ),
    ).rejects.toThrow(/ready\.sqlite is a link: not written/);
    expect(readFileSync(ready).equals(finalizedBytes)).toBe(true);
    await keepDatabases(node24, [[live, join(dir, 'real', 'kept.sqlite')]], undefined);
    expect(readdirSync(join(dir, 'real'))).toEqual(['kept.sqlite']);
  });

  it('a table both created alike (OpenClaw 9.5 and 9.6 its empty user_profiles): nothing to merge; unlike, a conflict', async () => {
    const { live, before, finalized } = await threeDatabases();
    // The service creates the table finalize's migration created (`runs`), with the same statement, empty.
    sql(live, `CREATE TABLE runs (id TEXT PRIMARY KEY); INSERT INTO boot VALUES ('b2', 'x')`);
    const alike = (await digestTables(node24, [live], undefined))[live]!;
    expect(alike.runs).toBe(finalized.runs);
    expect(tableMerge({ base: before, prepared: before, finalized, live: alike })).toEqual({
      merge: ['boot'],
      rows: [],
      migrated: [],
      superseded: [],
      conflicts: [],
    });
    // The control: a row in the service's, none in finalize's.
    sql(live, `INSERT INTO runs VALUES ('r1')`);
    const unlike = (await digestTables(node24, [live], undefined))[live]!;
    expect(tableMerge({ base: before, prepared: before, finalized, live: unlike }).conflicts).toEqual(['runs']);
  });

  it('a table both created, the service’s of another shape and empty (OpenClaw 9.5’s user_profiles): finalize’s stands; with a row, a conflict', async () => {
    const { live, base, ready, before, finalized } = await threeDatabases();
    // 9.5's own CREATE statement for the table 9.6's finalize created: another shape, no row.
    sql(live, `CREATE TABLE runs (id TEXT PRIMARY KEY, note TEXT) STRICT; INSERT INTO boot VALUES ('b2', 'x')`);
    const empty = (await digestTables(node24, [live], undefined))[live]!;
    expect(empty.runs).not.toBe(finalized.runs);
    const plan = tableMerge({ base: before, prepared: before, finalized, live: empty });
    expect(plan).toEqual({ merge: ['boot'], rows: [], migrated: [], superseded: ['runs'], conflicts: [] });
    const done = await mergeTables(
      node24,
      { into: ready, from: live, base, whole: plan.merge, rows: plan.rows, migrated: plan.migrated },
      undefined,
    );
    expect(done).toEqual({ conflicts: [], carried: { boot: 'whole' }, kept: [] });
    expect(sql(ready, "SELECT sql FROM sqlite_master WHERE name = 'runs'")).toEqual([
      { sql: 'CREATE TABLE runs (id TEXT PRIMARY KEY)' },
    ]);
    // The control: a row of the service's in it, which finalize's table does not have.
    sql(live, `INSERT INTO runs VALUES ('r1', 'the service wrote it')`);
    const written = (await digestTables(node24, [live], undefined))[live]!;
    expect(tableMerge({ base: before, prepared: before, finalized, live: written }).conflicts).toEqual(['runs']);
  });
});

/**
 * A table the target's migration gave another shape (OpenClaw 2026.9.6 adds columns to `cron_jobs` with ALTER TABLE),
 * which the service went on writing in the old shape: its rows are taken across where the migration only added columns
 * and derived none of their values; anything else is a conflict and the finalized database stays as finalize left it.
 */
describe('merging across the target’s migration of a table', () => {
  async function migratedJobs(migration: string) {
    const dir = tempDir('rs-sqlite-migrated-');
    const live = join(dir, 'live.sqlite');
    sql(
      live,
      `CREATE TABLE jobs (id TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL DEFAULT '{}');
       INSERT INTO jobs VALUES ('j1', 'heartbeat', '{"runs":1}'), ('j2', 'digest', '{}'), ('j3', 'old', '{}')`,
    );
    const { base, ready, before } = await baseAndReady(dir, live);
    sql(ready, migration);
    const finalized = (await digestTables(node24, [ready], undefined))[ready]!;
    // The service, in the old shape: a job's state updated, one added, one removed.
    sql(
      live,
      `UPDATE jobs SET state = '{"runs":2}' WHERE id = 'j1'; INSERT INTO jobs (id, name) VALUES ('j4', 'new'); DELETE FROM jobs WHERE id = 'j3'`,
    );
    const now = (await digestTables(node24, [live], undefined))[live]!;
    const plan = tableMerge({ base: before, prepared: before, finalized, live: now });
    const done = await mergeTables(
      node24,
      { into: ready, from: live, base, whole: plan.merge, rows: plan.rows, migrated: plan.migrated },
      undefined,
    );
    return { ready, plan, done, finalized };
  }

  it('columns added (ALTER TABLE ADD COLUMN): the service’s rows taken, the added columns at their defaults', async () => {
    const { ready, plan, done } = await migratedJobs(
      `ALTER TABLE jobs ADD COLUMN grant_revision TEXT; ALTER TABLE jobs ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1`,
    );
    expect(plan.migrated).toEqual(['jobs']);
    expect(plan.conflicts).toEqual([]);
    expect(done).toEqual({ conflicts: [], carried: { jobs: 3 }, kept: [] });
    expect(sql(ready, 'SELECT * FROM jobs ORDER BY id')).toEqual([
      { id: 'j1', name: 'heartbeat', state: '{"runs":2}', grant_revision: null, enabled: 1 },
      { id: 'j2', name: 'digest', state: '{}', grant_revision: null, enabled: 1 },
      { id: 'j4', name: 'new', state: '{}', grant_revision: null, enabled: 1 },
    ]);
    expect(sql(ready, "SELECT sql FROM sqlite_master WHERE name = 'jobs'")[0]!.sql).toContain('grant_revision');
  });

  it('added columns the migration filled from the old ones: a conflict, the finalized database as it was', async () => {
    const { ready, plan, done, finalized } = await migratedJobs(
      `ALTER TABLE jobs ADD COLUMN label TEXT; UPDATE jobs SET label = upper(name)`,
    );
    expect(plan.migrated).toEqual(['jobs']);
    expect(done.conflicts).toEqual([
      'jobs["\\"j1\\""] (its migration derived the added columns)',
      'jobs["\\"j3\\""] (its migration derived the added columns)',
      'jobs["\\"j4\\""] (its migration derived the added columns)',
    ]);
    expect((await digestTables(node24, [ready], undefined))[ready]).toEqual(finalized);
  });

  it('a column changed by the migration (the table rebuilt): a conflict, the finalized database as it was', async () => {
    const { ready, plan, done, finalized } = await migratedJobs(
      `CREATE TABLE jobs2 (id TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL DEFAULT '[]');
       INSERT INTO jobs2 SELECT * FROM jobs; DROP TABLE jobs; ALTER TABLE jobs2 RENAME TO jobs`,
    );
    expect(plan.migrated).toEqual(['jobs']);
    expect(done.conflicts).toEqual(['jobs (its migration changed a column, not only added)']);
    expect((await digestTables(node24, [ready], undefined))[ready]).toEqual(finalized);
  });
});
