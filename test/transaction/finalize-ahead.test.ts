// Finalize done ahead, its parts on their own (transaction/finalize-ahead-step.ts, snapshot/ahead-account.ts,
// snapshot/sqlite-tables.ts, service/finalize.ts inNamespace): the write set of two digests, the table merge's
// verdicts, the fingerprint that sees every kind of write, the swap by rename, and the namespace a finalize ahead runs
// in (the real one: a copy mounted over the live folder, seen there by the command alone). The real gateway's cases
// are finalize-ahead.openclaw.test.ts's.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { digest, fingerprint, swapIn } from '../../src/snapshot/ahead-account.ts';
import { tableMerge } from '../../src/snapshot/sqlite-tables.ts';
import { inNamespace } from '../../src/service/finalize.ts';
import { writeSet } from '../../src/transaction/finalize-ahead-step.ts';

const made: string[] = [];
const temp = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rs-ahead-'));
  made.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const put = (dir: string, rel: string, text: string) => {
  mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  writeFileSync(path.join(dir, rel), text);
};

describe('writeSet', () => {
  it('a changed file, a new folder whole (not its files), a removed file and folder; unchanged entries and folder modes left out', () => {
    const before = {
      'a.json': 'f:1:420',
      'keep.txt': 'f:2:420',
      'old/': 'd:16877',
      'old/x': 'f:3:420',
      gone: 'f:4:420',
      'npm/': 'd:16877',
    };
    const after = {
      'a.json': 'f:9:420',
      'keep.txt': 'f:2:420',
      'npm/': 'd:16832',
      'npm/gen/': 'd:16877',
      'npm/gen/index.js': 'f:5:420',
      'npm/gen/lib/': 'd:16877',
      'npm/gen/lib/x.js': 'f:6:420',
    };
    expect(writeSet(before, after)).toEqual(['a.json', 'npm/gen/', 'gone', 'old/']);
  });
  it('nothing changed: nothing to put in place', () => {
    expect(writeSet({ a: 'f:1:420' }, { a: 'f:1:420' })).toEqual([]);
  });
});

describe('tableMerge', () => {
  const base = { '#user_version': '17', leases: 's1:r1', boot: 's2:r2', config: 's3:r3', meta: 's5:r1' };
  const prepared = { ...base, leases: 's1:r0' };
  it("the service's tables carried over whole where finalize left them alone", () => {
    const finalized = { ...prepared, '#user_version': '18', config: 's3:r9', runs: 's4:r1' };
    const live = { ...base, leases: 's1:r0', boot: 's2:r7' };
    expect(tableMerge({ base, prepared, finalized, live })).toEqual({
      merge: ['boot', 'leases'],
      rows: [],
      migrated: [],
      superseded: [],
      conflicts: [],
    });
  });
  it('a table both changed goes row by row; one finalize owns and restructured keeps finalize’s version whole', () => {
    const finalized = { ...prepared, config: 's3:r9', meta: 's5:r0', owned: 's8:r0' };
    const live = { ...base, config: 's3:r8', meta: 's5:r2', owned: 's7:r1' };
    const withOwned = { ...base, owned: 's7:r0' };
    expect(tableMerge({ base: withOwned, prepared: withOwned, finalized, live }, ['meta', 'owned'])).toEqual({
      merge: [],
      rows: ['config', 'meta'],
      migrated: [],
      superseded: ['owned'],
      conflicts: [],
    });
  });
  it('a table both changed whose shape finalize changed goes to the migration check (mergeTables), not a conflict', () => {
    const finalized = { ...prepared, boot: 's9:r2' };
    const live = { '#user_version': '17', leases: 's1:r1', config: 's3:r3', meta: 's5:r1', boot: 's2:r5' };
    expect(tableMerge({ base, prepared, finalized, live })).toEqual({
      merge: [],
      rows: [],
      migrated: ['boot'],
      superseded: [],
      conflicts: [],
    });
  });
  it('a table both created alike (same schema, same rows) is nothing to merge, not a conflict; created unlike, one', () => {
    // A table the service and finalize both created, to the same schema and rows.
    const finalized = { ...prepared, '#user_version': '18', profiles: 's7:r0', runs: 's4:r1' };
    const live = { ...base, boot: 's2:r7', profiles: 's7:r0' };
    expect(tableMerge({ base, prepared, finalized, live })).toEqual({
      merge: ['boot'],
      rows: [],
      migrated: [],
      superseded: [],
      conflicts: [],
    });
    // The control: the service's copy of the table holds a row finalize's does not.
    expect(tableMerge({ base, prepared, finalized, live: { ...live, profiles: 's7:r1' } }).conflicts).toEqual([
      'profiles',
    ]);
  });
  it('a table without a row in the service’s hands, created or altered: finalize’s stands (or its absence); one with a row: a conflict', () => {
    // Measured: 2026.9.5 creates its `user_profiles` tables, empty, while it serves (its own CREATE statement), after
    // the copy; 2026.9.6's finalize creates them too.
    const finalized = { ...prepared, profiles: 's7:r0' };
    const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    const live = { ...base, profiles: `s6:${empty}` };
    expect(tableMerge({ base, prepared, finalized, live })).toMatchObject({ superseded: ['profiles'], conflicts: [] });
    expect(tableMerge({ base, prepared, finalized, live: { ...live, profiles: 's6:r1' } }).conflicts).toEqual([
      'profiles',
    ]);
    // Finalize did not make it: its absence stands (nothing of the service's in it; the target makes it when it needs it).
    expect(tableMerge({ base, prepared, finalized: prepared, live })).toMatchObject({
      superseded: ['profiles'],
      conflicts: [],
    });
    // There before the copy, empty, and altered by the service (a column added), still empty: finalize's stands.
    const had = { ...base, profiles: `s5:${empty}` };
    expect(
      tableMerge({
        base: had,
        prepared: had,
        finalized: { ...had, profiles: 's7:r0' },
        live: { ...had, profiles: `s6:${empty}` },
      }),
    ).toMatchObject({ superseded: ['profiles'], conflicts: [] });
    // The control: the service emptied a table that had rows (its deletes are writes to carry): not finalize's alone,
    // it goes row by row across finalize's migration of it (mergeTables judges each row).
    const full = { ...base, profiles: 's5:r3' };
    expect(
      tableMerge({
        base: full,
        prepared: full,
        finalized: { ...full, profiles: 's7:r3' },
        live: { ...full, profiles: `s5:${empty}` },
      }),
    ).toMatchObject({ superseded: [], migrated: ['profiles'] });
  });
  it('a schema the service changed, a table the service dropped, the live database migrated meanwhile: conflicts', () => {
    const finalized = { ...prepared, boot: 's9:r2' };
    const live = { '#user_version': '17', leases: 's1:r1', config: 's3:r3', meta: 's5:r1', boot: 's6:r5' };
    expect(tableMerge({ base, prepared, finalized, live }).conflicts).toEqual(['boot']);
    expect(tableMerge({ base, prepared, finalized: prepared, live }).conflicts).toEqual(['boot']);
    const dropped = { '#user_version': '17', leases: 's1:r1', config: 's3:r3', meta: 's5:r9' };
    expect(tableMerge({ base, prepared, finalized: prepared, live: dropped }).conflicts).toEqual(['boot']);
    expect(
      tableMerge({ base, prepared, finalized: prepared, live: { ...base, '#user_version': '18' } }).conflicts,
    ).toEqual(['#user_version']);
  });
});

describe('fingerprint and digest', () => {
  it('every kind of write shows in the fingerprint; ours and residue never do', async () => {
    const dir = temp();
    put(dir, 'config.json', '{}');
    put(dir, 'sessions/a.jsonl', 'one\n');
    put(dir, 'tmp/gateway.lock', 'x');
    put(dir, '.release-switcher-ready-ahead-t/config.json', '{}');
    symlinkSync('config.json', path.join(dir, 'link'));
    const first = await fingerprint(dir, { residue: ['/tmp/'] });
    expect(Object.keys(first).sort()).toEqual(['config.json', 'link', 'sessions/', 'sessions/a.jsonl']);
    // Same size, same mtime put back: the inode or ctime still tells a replaced file.
    const stamp = new Date('2026-01-01T00:00:00Z');
    writeFileSync(path.join(dir, 'sessions/b.tmp'), 'two\n');
    utimesSync(path.join(dir, 'sessions/b.tmp'), stamp, stamp);
    utimesSync(path.join(dir, 'sessions/a.jsonl'), stamp, stamp);
    const again = await fingerprint(dir, { residue: ['/tmp/'] });
    execFileSync('mv', [path.join(dir, 'sessions/b.tmp'), path.join(dir, 'sessions/a.jsonl')]);
    const replaced = await fingerprint(dir, { residue: ['/tmp/'] });
    expect(replaced['sessions/a.jsonl']).not.toBe(again['sessions/a.jsonl']);
    put(dir, 'tmp/other.lock', 'y'); // residue: not seen
    expect(Object.keys(await fingerprint(dir, { residue: ['/tmp/'] }))).toEqual(Object.keys(replaced));
  });
  it("the entries kept out of the state (the install inside it) are neither fingerprinted nor digested: a write in them is none of finalize's", async () => {
    const dir = temp();
    put(dir, 'config.json', '{}');
    put(dir, 'tools/node/bin/node', 'elf');
    put(dir, 'lib/node_modules/openclaw/package.json', '{}');
    put(dir, 'libs/kept-apart.txt', 'a sibling whose name starts alike is state');
    const filter = { residue: [], kept: ['tools', 'lib/node_modules'] };
    const first = await fingerprint(dir, filter);
    expect(Object.keys(first).sort()).toEqual(['config.json', 'lib/', 'libs/', 'libs/kept-apart.txt']);
    expect(Object.keys(await digest(dir, filter)).sort()).toEqual(Object.keys(first).sort());
    put(dir, 'tools/node/bin/node', 'another elf'); // the flip or an install rewrites the kept ones
    put(dir, 'lib/node_modules/openclaw/package.json', '{"version":"2"}');
    expect(await fingerprint(dir, filter)).toEqual(first);
    // The control: without them kept, the same walk sees those writes.
    expect(Object.keys(await fingerprint(dir, { residue: [] }))).toContain('tools/node/bin/node');
  });
  it('the digest is by content: a file rewritten with the same bytes is unchanged', async () => {
    const dir = temp();
    put(dir, 'a', 'same');
    const first = await digest(dir, { residue: [] });
    writeFileSync(path.join(dir, 'a'), 'same');
    expect(await digest(dir, { residue: [] })).toEqual(first);
    writeFileSync(path.join(dir, 'a'), 'other');
    expect((await digest(dir, { residue: [] }))['a']).not.toBe(first['a']);
  });
});

describe('swapIn', () => {
  it('each entry renamed in (new parents made), the live one moved aside first; an entry finalize removed goes aside', async () => {
    const live = temp();
    put(live, 'openclaw.json', 'old');
    put(live, 'sessions/s.jsonl', 'kept');
    put(live, 'gone.txt', 'removed by finalize');
    const ready = path.join(live, '.release-switcher-ready-ahead-t');
    const aside = path.join(live, '.release-switcher-aside-ahead-t');
    put(ready, 'openclaw.json', 'new');
    put(ready, 'npm/projects/gen/index.js', 'generation');
    const moved = await swapIn(live, ready, aside, ['openclaw.json', 'npm/', 'gone.txt']);
    expect(moved).toEqual(['openclaw.json', 'npm', 'gone.txt']);
    expect(readFileSync(path.join(live, 'openclaw.json'), 'utf8')).toBe('new');
    expect(readFileSync(path.join(live, 'npm/projects/gen/index.js'), 'utf8')).toBe('generation');
    expect(readFileSync(path.join(live, 'sessions/s.jsonl'), 'utf8')).toBe('kept');
    expect(readdirSync(live).sort()).toEqual([
      '.release-switcher-aside-ahead-t',
      '.release-switcher-ready-ahead-t',
      'npm',
      'openclaw.json',
      'sessions',
    ]);
    expect(readFileSync(path.join(aside, 'openclaw.json'), 'utf8')).toBe('old');
    expect(readFileSync(path.join(aside, 'gone.txt'), 'utf8')).toBe('removed by finalize');
  });
  it('refuses folders that are not ours in the live one', async () => {
    const live = temp();
    await expect(
      swapIn(live, path.join(live, 'elsewhere'), path.join(live, '.release-switcher-aside-x'), []),
    ).rejects.toMatchObject({
      code: 'STATE_PATH_UNSAFE',
    });
  });
});

describe('inNamespace', () => {
  it('the command sees the copy at the live path, outside nothing changes, and it runs without capabilities', () => {
    const live = temp();
    put(live, 'f', 'live');
    const copy = path.join(live, '.release-switcher-ready-ahead-t');
    put(copy, 'f', 'copy');
    const [file, args] = inNamespace(
      '/bin/sh',
      ['-c', `cat ${live}/f; echo written > ${live}/g; grep CapEff /proc/self/status`],
      {
        copy,
        live,
      },
    );
    const out = execFileSync(file, args, { encoding: 'utf8' });
    expect(out).toContain('copy');
    expect(out).toMatch(/CapEff:\s+0+\n/);
    expect(readFileSync(path.join(live, 'f'), 'utf8')).toBe('live');
    expect(readFileSync(path.join(copy, 'g'), 'utf8')).toBe('written\n');
    expect(readdirSync(live).sort()).toEqual(['.release-switcher-ready-ahead-t', 'f']);
  });
  it('a kept entry (the install inside the state) is the live one, read-only, at its place; the copy holds only its mount point', () => {
    const live = temp();
    put(live, 'tools/node', 'the live Node');
    put(live, 'lib/node_modules/openclaw/package.json', 'the live package');
    put(live, 'wrapper', 'a kept file');
    const copy = path.join(live, '.release-switcher-ready-ahead-t');
    put(copy, 'config.json', 'copy');
    const [file, args] = inNamespace(
      '/bin/sh',
      [
        '-c',
        [
          `cat ${live}/tools/node ${live}/lib/node_modules/openclaw/package.json ${live}/wrapper ${live}/config.json`,
          `echo; (echo changed > ${live}/tools/node) 2>/dev/null || echo refused`,
          `(echo changed > ${live}/wrapper) 2>/dev/null || echo refused`,
          `(echo new > ${live}/lib/node_modules/other) 2>/dev/null || echo refused`,
        ].join('; '),
      ],
      { copy, live, kept: ['lib/node_modules', 'tools', 'wrapper', 'absent'] },
    );
    const out = execFileSync(file, args, { encoding: 'utf8' });
    expect(out).toBe('the live Nodethe live packagea kept filecopy\nrefused\nrefused\nrefused\n');
    expect(readFileSync(path.join(live, 'tools/node'), 'utf8')).toBe('the live Node');
    expect(readFileSync(path.join(live, 'wrapper'), 'utf8')).toBe('a kept file');
    // In the copy: empty mount points where the kept entries are, nothing of theirs; none for an absent one.
    expect(readdirSync(path.join(copy, 'tools'))).toEqual([]);
    expect(readdirSync(path.join(copy, 'lib/node_modules'))).toEqual([]);
    expect(readFileSync(path.join(copy, 'wrapper'), 'utf8')).toBe('');
    expect(existsSync(path.join(copy, 'absent'))).toBe(false);
  });
  it("a private folder is empty and the command's own: what the live service keeps there is neither seen nor touched", () => {
    const live = temp();
    const copy = path.join(live, '.release-switcher-ready-ahead-t');
    mkdirSync(copy);
    const locks = path.join(temp(), 'state-locks');
    put(locks, 'gateway.lock', 'the live owner');
    const [file, args] = inNamespace(
      '/bin/sh',
      ['-c', `ls -A ${locks}; echo mine > ${locks}/own.lock; ls -A ${locks}`],
      {
        copy,
        live,
        privateFolders: [locks],
      },
    );
    expect(execFileSync(file, args, { encoding: 'utf8' })).toBe('own.lock\n');
    expect(readdirSync(locks)).toEqual(['gateway.lock']);
  });
});
