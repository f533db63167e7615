// The target's database check judges SQLite databases only: a file by the database's name that is not one (no SQLite
// header) gets no verdict (`unavailable`, never the refusing `indeterminate`) and the target's check is never run on
// it; a real database with a header that SQLite cannot copy still refuses.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { databasePreflight, refuses } from '../../src/rehearsal/database-preflight.ts';
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
  const [verdict] = await databasePreflight({
    node,
    releaseDir,
    args: ['check.cjs', '{file}', '--json'],
    databases: [file],
    workDir: join(dir, 'work'),
    env: process.env,
  });
  return verdict;
}

describe('database preflight of files that are not databases', () => {
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
    expect(verdict).toMatchObject({ database: file, status: 'indeterminate' });
    expect(refuses(verdict!)).toBe(true);
    expect(existsSync(ran)).toBe(false);
  });
});
