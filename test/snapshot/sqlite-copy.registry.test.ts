// Databases in a copy are one consolidated file made by SQLite itself and checked (quick_check), never pages plus a
// -wal of another moment: openclaw's `database preflight` calls a copy with -wal/-shm beside it `indeterminate`, and a
// plain copy of a database written while it is read may be torn. The copy runs on a Node with node:sqlite (openclaw's
// Node 24), whichever Node the suite runs on.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { copyStatePrivately } from '../../src/snapshot/private-copy.ts';
import { restoreSnapshot, takeSnapshot } from '../../src/snapshot/snapshot.ts';
import { hasNodeSqlite } from '../../src/snapshot/sqlite-copy.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { tempDir } from '../support/cli.ts';

// The suite's Node where it has node:sqlite, else Node 24 (fetched by the global setup): openclaw's Node.
const node24 = inject('sqliteNode');

/** Run `query` on `file` with node:sqlite; rows as JSON. */
function sql(file: string, query: string): Array<Record<string, unknown>> {
  const script = `const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(process.argv[1], { readOnly: true });
console.log(JSON.stringify(db.prepare(process.argv[2]).all())); db.close();`;
  return JSON.parse(execFileSync(node24, ['--no-warnings', '-e', script, file, query], { encoding: 'utf8' }));
}

/** A WAL database (no checkpoints, so its pages stay in the -wal) with `batches` transactions of 10 rows each. */
function makeDatabase(file: string, batches: number): void {
  const script = `const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(process.argv[1]);
db.exec('PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE rows (n INTEGER); CREATE TABLE total (n INTEGER); INSERT INTO total VALUES (0)');
for (let b = 0; b < ${batches}; b++) { db.exec('BEGIN'); for (let i = 0; i < 10; i++) db.exec('INSERT INTO rows VALUES (1)'); db.exec('UPDATE total SET n = n + 10; COMMIT'); }
process.stdout.write('ready'); setInterval(() => {}, 1000);`;
  writers.push(spawn(node24, ['--no-warnings', '-e', script, file], { stdio: ['ignore', 'pipe', 'inherit'] }));
}

/** Keeps writing batches of 10 rows (and the total with them, in one transaction) until killed. */
function writeContinuously(file: string): ChildProcess {
  const script = `const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(process.argv[1]);
db.exec('PRAGMA busy_timeout = 5000; PRAGMA wal_autocheckpoint = 0'); let first = true;
const batch = () => { db.exec('BEGIN'); for (let i = 0; i < 10; i++) db.exec('INSERT INTO rows VALUES (1)'); db.exec('UPDATE total SET n = n + 10; COMMIT');
  if (first) { first = false; process.stdout.write('writing'); } setImmediate(batch); };
batch();`;
  const child = spawn(node24, ['--no-warnings', '-e', script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  writers.push(child);
  return child;
}

const writers: ChildProcess[] = [];
/** Resolves when the child prints `word`; rejects at once if it cannot start or exits first (never a silent timeout). */
const said = (child: ChildProcess, word: string) =>
  new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes(word) && resolve());
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`the SQLite writer exited (${code ?? signal}) before "${word}"`)),
    );
  });
afterEach(() => {
  for (const w of writers.splice(0)) w.kill('SIGKILL');
});

describe('SQLite in copies', () => {
  it('the Node the copies below use has node:sqlite', async () => {
    expect(await hasNodeSqlite(node24)).toBe(true);
  });

  it('a database written continuously while it is copied is one consistent file in the copy', async () => {
    const state = join(tempDir('rs-sqlite-'), '.openclaw');
    mkdirSync(join(state, 'state'), { recursive: true });
    const db = join(state, 'state/openclaw.sqlite');
    makeDatabase(db, 200);
    await said(writers[0]!, 'ready');
    const writer = writeContinuously(db);
    await said(writer, 'writing');
    expect(existsSync(`${db}-wal`)).toBe(true);
    const copy = join(tempDir('rs-sqlite-copy-'), 'state');
    await copyStatePrivately([state], copy, { sqliteNodes: [node24] });
    writer.kill('SIGKILL');
    expect(readdirSync(join(copy, 'state'))).toEqual(['openclaw.sqlite']); // no -wal, no -shm
    const copied = join(copy, 'state/openclaw.sqlite');
    expect(sql(copied, 'PRAGMA quick_check')).toEqual([{ quick_check: 'ok' }]);
    const [{ rows, total }] = sql(
      copied,
      'SELECT (SELECT count(*) FROM rows) AS rows, (SELECT n FROM total) AS total',
    ) as [{ rows: number; total: number }];
    expect(rows).toBeGreaterThanOrEqual(2000); // everything committed before the copy began
    expect(rows % 10).toBe(0); // whole transactions only
    expect(total).toBe(rows); // and both tables of the same moment
    expect(sql(copied, 'PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]); // as the service had it
  });

  it('a snapshot holds the consolidated database; restoring it removes the -wal the newer release left', async () => {
    const home = tempDir('rs-sqlite-home-');
    const db = join(home, 'main.sqlite');
    makeDatabase(db, 3);
    await said(writers[0]!, 'ready');
    const root = join(tempDir('rs-sqlite-root-'), 'root');
    mkdirSync(root, { recursive: true });
    const manifest = await takeSnapshot({
      root,
      id: 'tx1',
      statePaths: [db],
      sqliteNodes: [node24],
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    expect(manifest.entries[0]!.companions!.every((c) => !c.present)).toBe(true);
    const stored = join(layoutOf(root).snapshot('tx1'), manifest.entries[0]!.stored!);
    expect(existsSync(`${stored}-wal`)).toBe(false);
    for (const w of writers.splice(0)) w.kill('SIGKILL'); // the service stops; its -wal stays
    expect(existsSync(`${db}-wal`)).toBe(true);
    await restoreSnapshot({ root, id: 'tx1' });
    expect(existsSync(`${db}-wal`)).toBe(false);
    expect(sql(db, 'SELECT count(*) AS n FROM rows')).toEqual([{ n: 30 }]);
  });

  it('a database SQLite cannot copy is refused with STATE_COPY_FAILED, naming it', async () => {
    const state = tempDir('rs-sqlite-bad-');
    const db = join(state, 'broken.sqlite');
    writeFileSync(db, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4096, 0xff)]));
    const copy = join(tempDir('rs-sqlite-copy-'), 'state');
    await expect(copyStatePrivately([state], copy, { sqliteNodes: [node24] })).rejects.toMatchObject({
      code: 'STATE_COPY_FAILED',
      message: expect.stringContaining('broken.sqlite'),
    });
  });
});
