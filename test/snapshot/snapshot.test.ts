// State snapshots on their own: what is taken (SQLite files with their companions, folders, absent
// paths, globs, `~` and `${NAME}`), what a restore puts back (exactly, each file by rename), what prune
// keeps, and the rule that decides between restoring, keeping and refusing.
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyState } from '../../src/store/journal.ts';
import type { State, Transaction } from '../../src/model/state.ts';
import { layoutOf } from '../../src/store/layout.ts';
import {
  listSnapshots,
  pruneSnapshots,
  readSnapshot,
  restoreSnapshot,
  takeSnapshot,
} from '../../src/snapshot/snapshot.ts';
import { expandStatePath, resolveStatePaths } from '../../src/snapshot/state-paths.ts';
import { planStateReturn, schemaAtLeast } from '../../src/transaction/state-return.ts';
import { defaultConfig } from '../../src/store/config.ts';
import { tempDir } from '../support/cli.ts';

const read = (p: string) => readFileSync(p, 'utf8');
const write = (p: string, text: string) => {
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
};

/** A service's state: a SQLite file with its WAL, a config, an agent database, a folder, and a path that does not exist yet. */
function serviceState() {
  const home = tempDir('rs-snap-home-');
  const dir = join(home, '.svc');
  write(join(dir, 'state/main.sqlite'), 'db v1');
  write(join(dir, 'state/main.sqlite-wal'), 'wal v1');
  write(join(dir, 'agents/a/agent/agent.sqlite'), 'agent a v1');
  write(join(dir, 'config.json'), '{"v":1}');
  write(join(dir, 'plugins/p1/data.txt'), 'plugin 1');
  write(join(dir, 'plugins/keep.txt'), 'keep');
  const root = join(tempDir('rs-snap-root-'), 'root');
  mkdirSync(root, { recursive: true });
  const statePaths = [
    '${SVC_STATE:-~/.svc}/state/*.sqlite',
    '~/.svc/agents/*/agent/*.sqlite',
    '~/.svc/config.json',
    '~/.svc/plugins',
    '~/.svc/late.json',
  ];
  return { home, dir, root, statePaths, env: { HOME: home } };
}

describe('state paths', () => {
  it('expand ${NAME:-fallback} (nested) and ~ from the given environment, never from ours', () => {
    expect(expandStatePath('${A:-${B:-~/x}}/y', { HOME: '/h' })).toBe('/h/x/y');
    expect(expandStatePath('${A:-${B:-~/x}}/y', { HOME: '/h', B: '/b' })).toBe('/b/y');
    expect(expandStatePath('${A}/y', { A: '/a' })).toBe('/a/y');
    expect(() => expandStatePath('${A}/y', {})).toThrow(/not set/);
    expect(() => expandStatePath('relative/y', {})).toThrow(/not absolute/);
  });

  it('globs match per segment, leave dotfiles and backups alone, and fold SQLite companions into their database', async () => {
    const { dir, env } = serviceState();
    write(join(dir, 'state/main.sqlite.pre-startup-migration-1.bak'), 'backup');
    write(join(dir, 'state/.hidden.sqlite'), 'hidden');
    expect(await resolveStatePaths(['~/.svc/state/*.sqlite', '~/.svc/agents/*/agent/*.sqlite'], env)).toEqual([
      join(dir, 'state/main.sqlite'),
      join(dir, 'agents/a/agent/agent.sqlite'),
    ]);
    expect(await resolveStatePaths(['~/.svc/state/*'], env)).toEqual([
      join(dir, 'state/main.sqlite'),
      join(dir, 'state/main.sqlite.pre-startup-migration-1.bak'),
    ]);
  });
});

describe('takeSnapshot and restoreSnapshot', () => {
  it('takes SQLite files with their companions, folders, and absent paths, and records them in snapshot.json', async () => {
    const { dir, root, statePaths, env } = serviceState();
    const manifest = await takeSnapshot({ root, id: 'tx1', statePaths, env, fromVersion: '1.0.0', toVersion: '2.0.0' });
    expect(manifest).toMatchObject({ id: 'tx1', fromVersion: '1.0.0', toVersion: '2.0.0', statePaths });
    const byPath = Object.fromEntries(manifest.entries.map((e) => [e.path, e]));
    expect(byPath[join(dir, 'state/main.sqlite')]).toMatchObject({
      type: 'file',
      size: 5,
      companions: [
        { suffix: '-wal', present: true, size: 6 },
        { suffix: '-shm', present: false },
        { suffix: '-journal', present: false },
      ],
    });
    expect(byPath[join(dir, 'config.json')]).toMatchObject({ type: 'file', size: 7 });
    expect(byPath[join(dir, 'config.json')]!.companions).toBeUndefined(); // not SQLite
    expect(byPath[join(dir, 'plugins')]).toMatchObject({ type: 'dir', size: 12 });
    expect(byPath[join(dir, 'late.json')]).toEqual({ path: join(dir, 'late.json'), type: 'absent' });
    const snap = layoutOf(root).snapshot('tx1');
    expect(JSON.parse(read(join(snap, 'snapshot.json')))).toEqual(manifest);
    const main = byPath[join(dir, 'state/main.sqlite')]!;
    expect(read(join(snap, main.stored!))).toBe('db v1');
    expect(read(join(snap, `${main.stored}-wal`))).toBe('wal v1');
    expect(manifest.size).toBe(5 + 6 + 10 + 7 + 12);
    // A second take of the same transaction (a crash-looping start) keeps the first, pre-migration one.
    write(join(dir, 'state/main.sqlite'), 'db v2');
    expect(await takeSnapshot({ root, id: 'tx1', statePaths, env, fromVersion: '1.0.0', toVersion: '2.0.0' })).toEqual(
      manifest,
    );
    expect(readdirSync(layoutOf(root).snapshots)).toEqual(['tx1']);
  });

  it('puts every path back exactly: stale companions and late files deleted, folders made equal, unrelated files left alone', async () => {
    const { dir, root, statePaths, env } = serviceState();
    await takeSnapshot({ root, id: 'tx1', statePaths, env, fromVersion: '1.0.0', toVersion: '2.0.0' });
    // What a newer release does on its first start.
    write(join(dir, 'state/main.sqlite.pre-startup-migration-1.bak'), 'db v1');
    write(join(dir, 'state/main.sqlite'), 'db v2 migrated');
    write(join(dir, 'state/main.sqlite-wal'), 'wal v2');
    write(join(dir, 'state/main.sqlite-shm'), 'shm v2');
    write(join(dir, 'agents/a/agent/agent.sqlite'), 'agent a v2');
    write(join(dir, 'agents/b/agent/agent.sqlite'), 'agent b, created later');
    write(join(dir, 'config.json'), '{"v":2}');
    write(join(dir, 'late.json'), 'written by the newer release');
    write(join(dir, 'plugins/p2/new.txt'), 'new plugin');
    unlinkSync(join(dir, 'plugins/keep.txt'));
    write(join(dir, 'plugins/p1/data.txt'), 'plugin 1 changed');

    const result = await restoreSnapshot({ root, id: 'tx1' });

    expect(read(join(dir, 'state/main.sqlite'))).toBe('db v1');
    expect(read(join(dir, 'state/main.sqlite-wal'))).toBe('wal v1');
    expect(existsSync(join(dir, 'state/main.sqlite-shm'))).toBe(false);
    expect(read(join(dir, 'agents/a/agent/agent.sqlite'))).toBe('agent a v1');
    expect(read(join(dir, 'config.json'))).toBe('{"v":1}');
    expect(existsSync(join(dir, 'late.json'))).toBe(false);
    expect(read(join(dir, 'plugins/p1/data.txt'))).toBe('plugin 1');
    expect(read(join(dir, 'plugins/keep.txt'))).toBe('keep');
    expect(existsSync(join(dir, 'plugins/p2'))).toBe(false);
    // Not snapshotted: the release's own migration backup, and a database that did not exist then.
    expect(read(join(dir, 'state/main.sqlite.pre-startup-migration-1.bak'))).toBe('db v1');
    expect(read(join(dir, 'agents/b/agent/agent.sqlite'))).toBe('agent b, created later');
    expect(result.removed.sort()).toEqual([join(dir, 'late.json'), join(dir, 'state/main.sqlite-shm')]);
    expect(result.restored).toContain(join(dir, 'state/main.sqlite-wal'));
    // No temp file is left beside anything it restored.
    for (const d of ['state', 'agents/a/agent', '', 'plugins', 'plugins/p1'])
      expect(readdirSync(join(dir, d)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('replaces each file by rename (a reader holding the old file keeps it whole), and keeps modes and times', async () => {
    const { dir, root, statePaths, env } = serviceState();
    const db = join(dir, 'state/main.sqlite');
    chmodSync(db, 0o600);
    utimesSync(db, new Date('2026-01-02T03:04:05Z'), new Date('2026-01-02T03:04:05Z'));
    await takeSnapshot({ root, id: 'tx1', statePaths, env, fromVersion: '1.0.0', toVersion: '2.0.0' });
    write(db, 'db v2 migrated');
    chmodSync(db, 0o644);
    const before = statSync(db).ino;
    const fd = openSync(db, 'r'); // a process that still has the newer database open
    await restoreSnapshot({ root, id: 'tx1' });
    const buffer = Buffer.alloc(64);
    expect(buffer.subarray(0, readSync(fd, buffer, 0, 64, 0)).toString()).toBe('db v2 migrated');
    const after = statSync(db);
    expect(after.ino).not.toBe(before);
    expect(read(db)).toBe('db v1');
    expect(after.mode & 0o777).toBe(0o600);
    expect(after.mtime.toISOString()).toBe('2026-01-02T03:04:05.000Z');
  });

  it('follows a symlinked state path: the file it names is restored, the link stays', async () => {
    const { dir, root, env } = serviceState();
    write(join(dir, 'dotfiles/config.json'), '{"linked":1}');
    unlinkSync(join(dir, 'config.json'));
    symlinkSync('dotfiles/config.json', join(dir, 'config.json'));
    await takeSnapshot({
      root,
      id: 'tx1',
      statePaths: ['~/.svc/config.json'],
      env,
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    write(join(dir, 'dotfiles/config.json'), '{"linked":2}');
    await restoreSnapshot({ root, id: 'tx1' });
    expect(lstatSync(join(dir, 'config.json')).isSymbolicLink()).toBe(true);
    expect(read(join(dir, 'dotfiles/config.json'))).toBe('{"linked":1}');
  });

  it('restoring a snapshot that is not there is STATE_SNAPSHOT_MISSING', async () => {
    const { root } = serviceState();
    await expect(restoreSnapshot({ root, id: 'nope' })).rejects.toMatchObject({ code: 'STATE_SNAPSHOT_MISSING' });
  });
});

describe('pruneSnapshots', () => {
  it('drops snapshots of releases that are gone and those a newer one for the same release superseded', async () => {
    const { root, statePaths, env } = serviceState();
    const take = (id: string, fromVersion: string, toVersion: string) =>
      takeSnapshot({ root, id, statePaths, env, fromVersion, toVersion });
    await take('a', '1.0.0', '2.0.0');
    await take('b', '2.0.0', '3.0.0');
    await take('c', '1.0.0', '2.0.0');
    await take('d', '0.9.0', '1.0.0');
    const layout = layoutOf(root);
    expect(await pruneSnapshots(layout, new Set(['1.0.0', '2.0.0', '3.0.0']))).toEqual(['a', 'd']);
    expect((await listSnapshots(layout)).map((s) => s.id)).toEqual(['b', 'c']);
    expect(readdirSync(layout.snapshots).sort()).toEqual(['b', 'c']);
    expect(await readSnapshot(layout, 'a')).toBeUndefined();
  });
});

describe('going back: restore, keep or refuse', () => {
  function rootWith(schemas: Record<string, unknown>) {
    const root = join(tempDir('rs-plan-'), 'root');
    for (const [version, schema] of Object.entries(schemas))
      write(
        join(root, 'releases', version, 'package.json'),
        JSON.stringify({ name: 'svc', version, ...(schema === undefined ? {} : { svc: { schemas: schema } }) }),
      );
    return layoutOf(root);
  }
  const tx = (id: string, from: string, to: string, status: Transaction['status'] = 'verified'): Transaction => ({
    id,
    kind: 'switch',
    status,
    from,
    to,
    reason: null,
    startedAt: '',
    finishedAt: '',
    steps: [],
  });
  const stateWith = (...history: Transaction[]): State => ({ ...emptyState(), history });
  const config = { ...defaultConfig('svc'), statePaths: ['/x'], schemaField: 'svc.schemas' };

  it('schemas compare per number: a target reads state of a lower or equal schema', () => {
    expect(schemaAtLeast(18, 17)).toBe(true);
    expect(schemaAtLeast(17, 18)).toBe(false);
    expect(schemaAtLeast({ state: 18, agent: 23 }, { agent: 21, state: 17 })).toBe(true);
    expect(schemaAtLeast({ state: 17, agent: 21 }, { state: 18, agent: 23 })).toBe(false);
    expect(schemaAtLeast({ state: 18 }, { state: 18, agent: 1 })).toBe(false); // a store it does not know
    expect(schemaAtLeast('a', 'b')).toBe(false);
  });

  it('restores the snapshot of the transaction that brought the current release in from the target', async () => {
    const layout = rootWith({ '1.0.0': { state: 17, agent: 21 }, '2.0.0': { state: 18, agent: 23 } });
    await takeSnapshot({ root: layout.root, id: 'up', statePaths: [], fromVersion: '1.0.0', toVersion: '2.0.0' });
    const plan = await planStateReturn({
      layout,
      config,
      state: stateWith(tx('up', '1.0.0', '2.0.0')),
      leaving: '2.0.0',
      target: '1.0.0',
    });
    expect(plan).toMatchObject({ action: 'restore', snapshot: 'up' });
    expect((plan as { detail: string }).detail).toMatch(
      /svc\.schemas: 2\.0\.0 \{"agent":23,"state":18\}, 1\.0\.0 \{"agent":21,"state":17\}/,
    );
  });

  it('the way back of a rollback in flight puts back what that rollback set aside; once it is over, going forward migrates', async () => {
    const layout = rootWith({ '1.0.0': 17, '2.0.0': 18 });
    await takeSnapshot({ root: layout.root, id: 'up', statePaths: [], fromVersion: '1.0.0', toVersion: '2.0.0' });
    // The rollback put "up" back and set aside the state 2.0.0 left (snapshot/swap.ts keepSetAside).
    const setAside = {
      id: 'back-aside',
      takenAt: '2026-11-25T00:00:00.000Z',
      fromVersion: '2.0.0',
      toVersion: '1.0.0',
    };
    write(
      join(layout.snapshot('back-aside'), 'snapshot.json'),
      JSON.stringify({ ...setAside, statePaths: [], entries: [], size: 0, setAsideBy: 'back' }),
    );
    const back = { ...tx('back', '2.0.0', '1.0.0', 'verifying'), kind: 'rollback' as const };
    // 1.0.0 fails its verification: the way back to 2.0.0 starts it on the state it left.
    const inFlight = { ...stateWith(tx('up', '1.0.0', '2.0.0')), transaction: back };
    expect(await planStateReturn({ layout, config, state: inFlight, leaving: '1.0.0', target: '2.0.0' })).toMatchObject(
      {
        action: 'restore',
        snapshot: 'back-aside',
      },
    );
    // The rollback verified, 1.0.0 ran on since: a later switch to 2.0.0 migrates 1.0.0's state, as without a set-aside.
    const over = stateWith(tx('up', '1.0.0', '2.0.0'), { ...back, status: 'verified' });
    expect(await planStateReturn({ layout, config, state: over, leaving: '1.0.0', target: '2.0.0' })).toEqual({
      action: 'none',
    });
    // Unless it is asked for by name.
    expect(
      await planStateReturn({
        layout,
        config,
        state: over,
        leaving: '1.0.0',
        target: '2.0.0',
        requested: 'back-aside',
      }),
    ).toMatchObject({ action: 'restore', snapshot: 'back-aside', detail: expect.stringMatching(/set aside by back/) });
    await expect(
      planStateReturn({ layout, config, state: over, leaving: '1.0.0', target: '2.0.0', requested: 'up' }),
    ).rejects.toMatchObject({ code: 'CHECKPOINT_MISMATCH' });
  });

  it('refuses without a snapshot when the target declares an older schema; a stale snapshot of an earlier arrival does not count', async () => {
    const layout = rootWith({ '1.0.0': 17, '2.0.0': 18, '3.0.0': 18 });
    await takeSnapshot({ root: layout.root, id: 'old', statePaths: [], fromVersion: '1.0.0', toVersion: '2.0.0' });
    // 2.0.0 came in from 1.0.0 (snapshot "old"), then again from 3.0.0: "old" is from before days of 2.0.0's writes.
    const state = stateWith(tx('old', '1.0.0', '2.0.0'), tx('x', '2.0.0', '3.0.0'), tx('again', '3.0.0', '2.0.0'));
    expect(await planStateReturn({ layout, config, state, leaving: '2.0.0', target: '1.0.0' })).toMatchObject({
      action: 'refuse',
      detail: expect.stringMatching(/no state snapshot/),
    });
  });

  it('goes forward without a snapshot (the newer release migrates), keeps state across equal schemas, and does nothing unconfigured', async () => {
    const layout = rootWith({ '1.0.0': 17, '2.0.0': 18, '2.1.0': 18 });
    await takeSnapshot({ root: layout.root, id: 'up', statePaths: [], fromVersion: '2.0.0', toVersion: '2.1.0' });
    const state = stateWith(tx('up', '2.0.0', '2.1.0'));
    expect(await planStateReturn({ layout, config, state, leaving: '1.0.0', target: '2.0.0' })).toEqual({
      action: 'none',
    });
    expect(await planStateReturn({ layout, config, state, leaving: '2.1.0', target: '2.0.0' })).toMatchObject({
      action: 'keep',
    });
    expect(
      await planStateReturn({ layout, config: defaultConfig('svc'), state, leaving: '2.1.0', target: '2.0.0' }),
    ).toEqual({ action: 'none' });
    // Without a schema field there is nothing to compare: a snapshot that exists is restored, none is refused.
    const noField = { ...config, schemaField: null };
    expect(await planStateReturn({ layout, config: noField, state, leaving: '2.1.0', target: '2.0.0' })).toMatchObject({
      action: 'restore',
      snapshot: 'up',
    });
    expect(await planStateReturn({ layout, config: noField, state, leaving: '2.0.0', target: '1.0.0' })).toEqual({
      action: 'none',
    });
  });
});
