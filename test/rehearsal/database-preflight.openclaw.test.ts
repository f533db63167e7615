// OpenClaw's published schema check for a supervisor, on the real packages (2026.9.5 and 2026.9.6, Node 24): the
// target release's `database preflight` of a consolidated copy of the live state database (rehearsal/database-preflight.ts),
// as the `database-preflight` step runs it before every flip. The state is made by each release's own
// `doctor --non-interactive` (which creates, then migrates, `state/openclaw.sqlite` in WAL mode).
//
// OPENCLAW_PREFIX_95 / OPENCLAW_PREFIX_96 name prepared `npm install -g` prefixes (only read); otherwise both are
// the tier's prepared ones (test/support/openclaw-prepared.ts: installed once per machine, read only).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureServiceNode } from '../../bench/lib/node24.mjs';
import { refuses } from '../../src/rehearsal/database-preflight.ts';
import { openclawDatabasePreflight } from '../../src/presets/openclaw/database-preflight.ts';
import { preparedOpenclaw } from '../support/openclaw-prepared.ts';

const ARGS = ['dist/index.js', 'database', 'preflight', '{file}', '--json'];

describe('database preflight of the real openclaw releases', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'rs-dbpre-'));
  const home = path.join(work, 'home');
  const stateDir = path.join(home, '.openclaw');
  const database = path.join(stateDir, 'state', 'openclaw.sqlite');
  const env = { HOME: home, OPENCLAW_STATE_DIR: stateDir, PATH: process.env.PATH ?? '/usr/bin:/bin' };
  let node: string;
  const releases: Record<string, string> = {};

  beforeAll(async () => {
    node = process.env.BENCH_NODE24 ?? (await ensureServiceNode()).node;
    for (const [short, version] of [
      ['95', '2026.9.5'],
      ['96', '2026.9.6'],
    ]) {
      // Only read (doctor runs from it with its own HOME): the prepared prefix, one install per machine.
      const prefix = process.env[`OPENCLAW_PREFIX_${short}`] ?? (await preparedOpenclaw(version!));
      releases[version!] = path.join(prefix, 'lib', 'node_modules', 'openclaw');
    }
    mkdirSync(home, { recursive: true });
  }, 1_800_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const doctor = async (version: string) => {
    const r = await execa(node, [path.join(releases[version]!, 'dist', 'index.js'), 'doctor', '--non-interactive'], {
      env,
      extendEnv: false,
      reject: false,
      timeout: 300_000,
    });
    expect(existsSync(database), r.stdout + r.stderr).toBe(true);
  };
  const judge = async (version: string, databases = [database]) => {
    const workDir = path.join(work, `copies-${version}`);
    const verdicts = await openclawDatabasePreflight({
      node,
      releaseDir: releases[version]!,
      databases: databases.map((file) => ({ database: file, args: ARGS })),
      workDir,
      env,
    });
    expect(existsSync(workDir)).toBe(false); // the copies are gone
    return verdicts;
  };

  it('9.6 calls a 9.5 database migration-required and 9.5 exact; once 9.6 migrated it, 9.5 calls it incompatible (refused)', async () => {
    await doctor('2026.9.5');
    expect(readdirSync(path.dirname(database))).toContain('openclaw.sqlite-wal'); // a live WAL database, copied whole
    const live = statSync(database).mtimeMs;

    const onNew = await judge('2026.9.6');
    console.log(`9.6 on a 9.5 database: ${JSON.stringify(onNew)}`);
    expect(onNew).toEqual([
      expect.objectContaining({ database, status: 'migration-required', targetVersion: 18, foundVersion: 17 }),
    ]);
    expect(onNew.some(refuses)).toBe(false);
    expect(await judge('2026.9.5')).toEqual([expect.objectContaining({ status: 'exact' })]);
    expect(statSync(database).mtimeMs).toBe(live); // judging never writes the live database

    await doctor('2026.9.6');
    const onOld = await judge('2026.9.5');
    console.log(`9.5 on a database 9.6 migrated: ${JSON.stringify(onOld)}`);
    expect(onOld).toEqual([expect.objectContaining({ status: 'incompatible', targetVersion: 17, foundVersion: 18 })]);
    expect(onOld.some(refuses)).toBe(true);
    expect(await judge('2026.9.6')).toEqual([expect.objectContaining({ status: 'exact' })]);
  }, 900_000);

  it('a damaged database (SQLite header, unreadable pages) is indeterminate (refused); a file without the header is no database (unavailable); a release without the command is unavailable (not refused)', async () => {
    // SQLite's header and then pages it cannot read: a database that cannot be copied consistently, so not judged.
    const broken = path.join(work, 'broken.sqlite');
    writeFileSync(broken, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4096, 0xff)]));
    const [verdict] = await judge('2026.9.6', [broken]);
    expect(verdict).toMatchObject({
      database: broken,
      status: 'indeterminate',
      detail: expect.stringMatching(/copy failed/),
    });
    expect(refuses(verdict!)).toBe(true);

    // Text under a database's name is no database (snapshots copy it as a plain file too): no schema to judge.
    const text = path.join(work, 'text.sqlite');
    writeFileSync(text, 'not a database');
    const [plain] = await judge('2026.9.6', [text]);
    expect(plain).toMatchObject({
      database: text,
      status: 'unavailable',
      detail: expect.stringMatching(/no SQLite header/),
    });
    expect(refuses(plain!)).toBe(false);

    // A release from before the contract has no `database preflight`: no verdict, and no refusal (a rollback to one
    // must stay possible; the rehearsal and verify still judge it).
    const older = path.join(work, 'older');
    mkdirSync(path.join(older, 'dist'), { recursive: true });
    writeFileSync(
      path.join(older, 'dist', 'index.js'),
      'console.error("error: unknown command \'database\'"); process.exit(1);\n',
    );
    const [old] = await openclawDatabasePreflight({
      node,
      releaseDir: older,
      databases: [{ database, args: ARGS }],
      workDir: path.join(work, 'copies-older'),
      env,
    });
    expect(old).toMatchObject({ status: 'unavailable', detail: expect.stringMatching(/exit 1.*unknown command/s) });
    expect(refuses(old!)).toBe(false);
  }, 300_000);
});
