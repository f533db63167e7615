// The target's database check judges SQLite databases only: a file by the database's name that is not one (no SQLite
// header) gets no verdict (`unavailable`, never the refusing `indeterminate`) and the target's check is never run on
// it; a real database with a header that SQLite cannot copy still refuses. A check that crashes, times out or answers
// out of its schema refuses (`indeterminate`); only a release whose CLI does not know the command is `unavailable`.
// Agent databases are judged by their own check with the agent's id; a checkpoint's copy is read, never opened in place.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { refuses } from '../../src/rehearsal/database-preflight.ts';
import { openclawDatabasePreflight } from '../../src/presets/openclaw/database-preflight.ts';
import { tempDir } from '../support/cli.ts';

/** A release whose check records that it ran and answers `exact`. */
function release(dir: string): { releaseDir: string; ran: string } {
  const releaseDir = join(dir, 'release');
  const ran = join(dir, 'ran');
  mkdirSync(releaseDir, { recursive: true });
  writeFileSync(
    join(releaseDir, 'check.cjs'),
    `require('node:fs').writeFileSync(${JSON.stringify(ran)}, process.argv[2]);
console.log(JSON.stringify({ schema: 'openclaw.state-schema-preflight.v1', status: 'exact' }));\n`,
  );
  return { releaseDir, ran };
}

/** The one verdict of `release`'s check on `file`. */
async function judgeOne(node: string, dir: string, releaseDir: string, file: string) {
  const [verdict] = await openclawDatabasePreflight({
    node,
    releaseDir,
    databases: [{ database: file, args: ['check.cjs', '{file}', '--json'] }],
    workDir: join(dir, 'work'),
    env: process.env,
  });
  return verdict;
}

describe('database preflight verdicts: files that are not databases, checks that cannot judge, agents, checkpoints', () => {
  const node = inject('sqliteNode');

  it('a text file named openclaw.sqlite: unavailable, not refused, the check never run', async () => {
    const dir = tempDir('rs-dbpf-');
    const { releaseDir, ran } = release(dir);
    const file = join(dir, 'openclaw.sqlite');
    writeFileSync(file, 'live db, schema 17\n');
    const verdict = await judgeOne(node, dir, releaseDir, file);
    expect(verdict).toMatchObject({ database: file, status: 'unavailable', detail: expect.stringMatching(/header/) });
    expect(refuses(verdict!)).toBe(false);
    expect(existsSync(ran)).toBe(false);
    expect(existsSync(join(dir, 'work'))).toBe(false);
  });

  it('a file with the SQLite header that SQLite cannot copy: indeterminate, refused', async () => {
    const dir = tempDir('rs-dbpf-');
    const { releaseDir, ran } = release(dir);
    const file = join(dir, 'openclaw.sqlite');
    writeFileSync(file, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4096, 0xff)]));
    const verdict = await judgeOne(node, dir, releaseDir, file);
    // The reason SQLite gave, not the end of Node's stack trace.
    expect(verdict).toMatchObject({
      database: file,
      status: 'indeterminate',
      detail: expect.stringMatching(/^consolidated copy failed: \w*Error(\s\[\w+\])?: /),
    });
    expect(refuses(verdict!)).toBe(true);
    expect(existsSync(ran)).toBe(false);
  });

  /** A real WAL database (a table, a row), as the service leaves it: its `-wal` beside it. */
  function walDatabase(file: string): void {
    execFileSync(node, [
      '--no-warnings',
      '-e',
      "const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(process.argv[1]); db.exec('PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x); INSERT INTO t VALUES (1)'); process.exit(0);",
      file,
    ]);
  }

  /** A release whose check `check.cjs` runs `body` (argv: the copy, then the rest of the args). */
  function releaseWith(dir: string, body: string): string {
    const releaseDir = join(dir, 'release');
    mkdirSync(releaseDir, { recursive: true });
    writeFileSync(join(releaseDir, 'check.cjs'), body);
    return releaseDir;
  }

  const judge = (
    dir: string,
    releaseDir: string,
    databases: Parameters<typeof openclawDatabasePreflight>[0]['databases'],
    timeoutMs?: number,
  ) =>
    openclawDatabasePreflight({
      node,
      releaseDir,
      databases,
      workDir: join(dir, 'work'),
      env: process.env,
      ...(timeoutMs && { timeoutMs }),
    });

  it('a check that crashes, answers out of its schema or times out: indeterminate, refused; an unknown command: unavailable', async () => {
    const dir = tempDir('rs-dbpf-');
    const file = join(dir, 'openclaw.sqlite');
    walDatabase(file);
    const cases: Array<[string, string, RegExp, string]> = [
      [
        'crash',
        "throw new Error('boom in the check');",
        /no verdict \(exit 1\): Error: boom in the check$/,
        'indeterminate',
      ],
      [
        'other schema',
        "console.log(JSON.stringify({ schema: 'something.else.v1', status: 'exact' }));",
        /no verdict/,
        'indeterminate',
      ],
      [
        'unknown command',
        'console.error("error: unknown command \'database\'"); process.exit(1);',
        /no such check.*unknown command/s,
        'unavailable',
      ],
    ];
    for (const [name, body, detail, status] of cases) {
      const [verdict] = await judge(join(dir, name), releaseWith(join(dir, name), body), [
        { database: file, args: ['check.cjs', '{file}', '--json'] },
      ]);
      expect(verdict, name).toMatchObject({ database: file, status, detail: expect.stringMatching(detail) });
      expect(refuses(verdict!), name).toBe(status === 'indeterminate');
    }
    const slow = releaseWith(join(dir, 'slow'), 'setTimeout(() => {}, 60_000);');
    const [late] = await judge(join(dir, 'slow'), slow, [{ database: file, args: ['check.cjs', '{file}'] }], 1_500);
    expect(late).toMatchObject({ status: 'indeterminate', detail: expect.stringMatching(/timed out/) });
    expect(refuses(late!)).toBe(true);
  });

  it("an agent's database: its own check with its id; older than the target is migration-required, newer incompatible", async () => {
    const dir = tempDir('rs-dbpf-');
    const file = join(dir, 'openclaw-agent.sqlite');
    walDatabase(file);
    // OpenClaw's preflight-agent: exact, or incompatible with the versions found (argv: copy, --agent-id, id).
    const releaseDir = releaseWith(
      dir,
      `const [copy, flag, agent] = process.argv.slice(2);
const found = Number(process.env.FOUND);
console.log(JSON.stringify({ schema: 'openclaw.agent-schema-preflight.v1', databasePath: copy, agentId: agent, flag, targetVersion: 23, foundVersion: found, issues: [], status: found === 23 ? 'exact' : 'incompatible', ...(found !== 23 && { reason: 'uses schema version ' + found + ';\\nsee the docs' }) }, null, 2));\n`,
    );
    const agentCheck = {
      database: file,
      agentId: 'main',
      args: ['check.cjs', '{file}', '--agent-id', '{agent}', '--json'],
    };
    const verdictAt = async (found: number) => {
      process.env.FOUND = String(found);
      try {
        return (await judge(dir, releaseDir, [agentCheck]))[0];
      } finally {
        delete process.env.FOUND;
      }
    };
    expect(await verdictAt(21)).toMatchObject({
      database: file,
      agentId: 'main',
      status: 'migration-required',
      foundVersion: 21,
      targetVersion: 23,
      detail: 'uses schema version 21; see the docs',
    });
    const newer = await verdictAt(24);
    expect(newer).toMatchObject({ agentId: 'main', status: 'incompatible', foundVersion: 24 });
    expect(refuses(newer!)).toBe(true);
    expect(await verdictAt(23)).toMatchObject({ agentId: 'main', status: 'exact' });
    // The state check's schema is not an agent's answer: no verdict from it.
    const [wrong] = await judge(
      dir,
      releaseWith(
        join(dir, 'state'),
        "console.log(JSON.stringify({ schema: 'openclaw.state-schema-preflight.v1', status: 'exact' }));",
      ),
      [agentCheck],
    );
    expect(wrong).toMatchObject({ status: 'indeterminate' });
  });

  it("a checkpoint's copy (with its -wal) is judged under the live name and left exactly as it was", async () => {
    const dir = tempDir('rs-dbpf-');
    const live = join(dir, 'live', 'openclaw.sqlite');
    const stored = join(dir, 'snapshots', 'cp1', 'data', '0', 'openclaw.sqlite');
    mkdirSync(join(dir, 'live'), { recursive: true });
    mkdirSync(join(dir, 'snapshots', 'cp1', 'data', '0'), { recursive: true });
    walDatabase(stored);
    rmSync(`${stored}-shm`); // a checkpoint holds the database and its -wal; a read in place would make a -shm
    const bytes = () => [stored, `${stored}-wal`].map((f) => readFileSync(f).toString('base64'));
    const before = bytes();
    expect(readdirSync(join(dir, 'snapshots', 'cp1', 'data', '0')).sort()).toEqual([
      'openclaw.sqlite',
      'openclaw.sqlite-wal',
    ]);
    // The check sees the row the -wal holds: the consolidated copy carries it.
    const releaseDir = releaseWith(
      dir,
      `const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(process.argv[2], { readOnly: true });
const rows = db.prepare('SELECT count(*) AS n FROM t').get().n;
console.log(JSON.stringify({ schema: 'openclaw.state-schema-preflight.v1', status: rows === 1 ? 'exact' : 'incompatible' }, null, 2));\n`,
    );
    const [verdict] = await judge(dir, releaseDir, [
      {
        database: live,
        args: ['check.cjs', '{file}', '--json'],
        readFrom: { file: stored, checkpoint: 'cp1', within: join(dir, 'snapshots', 'cp1', 'data') },
      },
    ]);
    expect(verdict).toEqual({ database: live, checkpoint: 'cp1', status: 'exact' });
    expect(existsSync(live)).toBe(false); // the live path is only the verdict's name
    expect(bytes()).toEqual(before);
    expect(readdirSync(join(dir, 'snapshots', 'cp1', 'data', '0')).sort()).toEqual([
      'openclaw.sqlite',
      'openclaw.sqlite-wal',
    ]);
    expect(existsSync(join(dir, 'work'))).toBe(false);
  });
});
