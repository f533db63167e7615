// The rehearsal's private copy of the state: of the live paths, or, for a target whose start puts a snapshot back
// (a way back across a schema change), of that snapshot. Seen on real openclaw: rolling 2026.9.6 back to 2026.9.5
// rehearsed 9.5 on the live state 9.6 had migrated (schema 18), which 9.5 refuses; the real start restores the
// snapshot taken before 9.6 first ran (schema 17).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copySnapshotPrivately, copyStatePrivately } from '../../src/snapshot/private-copy.ts';
import { takeSnapshot } from '../../src/snapshot/snapshot.ts';
import { resolveStatePaths, statePathsBase } from '../../src/snapshot/state-paths.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { tempDir } from '../support/cli.ts';

const write = (p: string, text: string) => {
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
};

describe('copySnapshotPrivately', () => {
  it('places the snapshot (with its SQLite companions) where copyStatePrivately places the live paths, not the live content', async () => {
    const home = tempDir('rs-pc-home-');
    const dir = join(home, '.svc');
    write(join(dir, 'state/main.sqlite'), 'schema 17');
    write(join(dir, 'state/main.sqlite-wal'), 'wal 17');
    write(join(dir, 'config.json'), '{"v":17}');
    const root = join(tempDir('rs-pc-root-'), 'root');
    mkdirSync(root, { recursive: true });
    const statePaths = ['~/.svc/state/*.sqlite', '~/.svc/config.json', '~/.svc/late.json'];
    const env = { HOME: home };
    await takeSnapshot({ root, id: 'tx1', statePaths, env, fromVersion: '1.0.0', toVersion: '2.0.0' });
    // The newer release migrates the live state, and writes a file that did not exist before.
    write(join(dir, 'state/main.sqlite'), 'schema 18');
    write(join(dir, 'state/main.sqlite-wal'), 'wal 18');
    write(join(dir, 'config.json'), '{"v":18}');
    write(join(dir, 'late.json'), 'new');
    const layout = layoutOf(root);
    const base = statePathsBase(statePaths, env);
    const fromSnapshot = join(tempDir('rs-pc-copy-'), 'snap');
    await copySnapshotPrivately(layout, 'tx1', fromSnapshot, base);
    const fromLive = join(tempDir('rs-pc-copy-'), 'live');
    await copyStatePrivately(await resolveStatePaths(statePaths, env), fromLive, base);
    // Same shape as the live copy…
    expect(existsSync(join(fromLive, 'state/main.sqlite'))).toBe(true);
    for (const rel of ['state/main.sqlite', 'state/main.sqlite-wal', 'config.json'])
      expect(existsSync(join(fromSnapshot, rel)), rel).toBe(true);
    // …with the snapshot's content, and without what did not exist when it was taken.
    expect(readFileSync(join(fromSnapshot, 'state/main.sqlite'), 'utf8')).toBe('schema 17');
    expect(readFileSync(join(fromSnapshot, 'state/main.sqlite-wal'), 'utf8')).toBe('wal 17');
    expect(readFileSync(join(fromSnapshot, 'config.json'), 'utf8')).toBe('{"v":17}');
    expect(existsSync(join(fromSnapshot, 'late.json'))).toBe(false);
    expect(readFileSync(join(fromLive, 'state/main.sqlite'), 'utf8')).toBe('schema 18');
    // The live state is untouched.
    expect(readFileSync(join(dir, 'state/main.sqlite'), 'utf8')).toBe('schema 18');
  });

  it('a snapshot of one directory is the copy itself, as copyStatePrivately makes it', async () => {
    const home = tempDir('rs-pc-home-');
    write(join(home, '.svc/state/db.sqlite'), 'old');
    const root = join(tempDir('rs-pc-root-'), 'root');
    mkdirSync(root, { recursive: true });
    await takeSnapshot({
      root,
      id: 'tx2',
      statePaths: ['~/.svc'],
      env: { HOME: home },
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    write(join(home, '.svc/state/db.sqlite'), 'new');
    const layout = layoutOf(root);
    const copy = join(tempDir('rs-pc-copy-'), 'c');
    expect(await copySnapshotPrivately(layout, 'tx2', copy, statePathsBase(['~/.svc'], { HOME: home }))).toBe(copy);
    expect(readFileSync(join(copy, 'state/db.sqlite'), 'utf8')).toBe('old');
  });
});
