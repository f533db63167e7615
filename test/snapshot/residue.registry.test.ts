// Process residue never travels, in any copy: seen on real openclaw with `--state-path ~/.openclaw`, the rehearsal's
// private copy carried the live gateway's lock (`tmp/openclaw-<uid>/gateway.state.lock`, naming its pid) and 2026.9.6
// refused to start on it ("Another gateway (pid N) already owns this state directory"), so every update was refused.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyStatePrivately } from '../../src/snapshot/private-copy.ts';
import { ResidueFilter, ownerPidOf } from '../../src/snapshot/residue.ts';
import { stageCheckpoint, takeSnapshot } from '../../src/snapshot/snapshot.ts';
import { PRESETS } from '../../src/presets/index.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { tempDir } from '../support/cli.ts';

const write = (p: string, text: string) => {
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
};

/** Every file path under `dir`, relative, sorted. */
function filesUnder(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(dir, join(rel, e.name)) : [join(rel, e.name)]))
    .sort();
}

const openclawResidue = PRESETS.openclaw!.settings.residue!;
const deadPid = 2 ** 22 + 17; // above pid_max's default: no such process

describe('residue in copies of a state dir', () => {
  let state: string;
  let server: net.Server;
  beforeAll(async () => {
    state = join(tempDir('rs-residue-'), '.openclaw');
    const owner = JSON.stringify({ pid: process.pid, port: 18790, createdAt: new Date().toISOString() });
    write(join(state, 'tmp/openclaw-0/gateway.state.lock'), owner);
    write(join(state, 'tmp/openclaw-0/gateway.1a2b3c4d.lock'), owner);
    write(join(state, 'gateway.pid'), String(process.pid));
    write(join(state, 'plugins/owner.json'), owner); // named like data, but it names a live process
    write(join(state, 'plugins/stale-owner.json'), JSON.stringify({ pid: deadPid }));
    write(join(state, 'credentials/oauth.json'), '{"token":"t"}');
    write(join(state, '.env'), 'KEY=1\n');
    write(join(state, 'openclaw.json'), '{"gateway":{}}');
    write(join(state, 'workspace/tmp/notes.md'), 'a workspace tmp folder is not the runtime tmp/');
    write(join(state, 'workspace/yarn.lock'), '# lockfile');
    execFileSync('mkfifo', [join(state, 'events.fifo')]);
    server = net.createServer();
    await new Promise<void>((resolve) => server.listen(join(state, 'control'), resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const kept = [
    '.env',
    'credentials/oauth.json',
    'openclaw.json',
    'plugins/stale-owner.json',
    'workspace/tmp/notes.md',
  ].sort();

  it("the rehearsal's private copy leaves out locks, PID files, sockets, FIFOs, tmp/ and files naming a live process", async () => {
    const copy = join(tempDir('rs-residue-copy-'), 'state');
    await copyStatePrivately([state], copy, { residue: openclawResidue });
    expect(filesUnder(copy)).toEqual(kept);
    expect(existsSync(join(copy, 'tmp'))).toBe(false);
  });

  it('a snapshot leaves them out too, and takes everything else byte for byte', async () => {
    const root = join(tempDir('rs-residue-root-'), 'root');
    mkdirSync(root, { recursive: true });
    const manifest = await takeSnapshot({
      root,
      id: 'tx1',
      statePaths: [state],
      residue: openclawResidue,
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    const stored = join(layoutOf(root).snapshot('tx1'), manifest.entries[0]!.stored!);
    expect(filesUnder(stored)).toEqual(kept);
    for (const rel of kept)
      expect(readFileSync(join(stored, rel), 'utf8')).toBe(readFileSync(join(state, rel), 'utf8'));
  });

  it('without a preset, the generic rules still leave out PID files, sockets, FIFOs and live owners', async () => {
    const copy = join(tempDir('rs-residue-copy-'), 'state');
    await copyStatePrivately([state], copy);
    const files = filesUnder(copy);
    for (const residue of ['gateway.pid', 'events.fifo', 'control', 'plugins/owner.json'])
      expect(files).not.toContain(residue);
    // openclaw's locks name this (live) process: the content rule leaves them out even with no pattern for them.
    expect(files.filter((f) => f.startsWith('tmp/'))).toEqual([]);
    expect(files).toContain('workspace/yarn.lock');
  });
});

describe('ResidueFilter', () => {
  const dir = { isDirectory: () => true, isFile: () => false, isSymbolicLink: () => false };
  const file = { isDirectory: () => false, isFile: () => true, isSymbolicLink: () => false };
  it('anchors a leading / at the tree root, matches other names anywhere, and a trailing / only folders', () => {
    const filter = new ResidueFilter({ patterns: ['/tmp/', '*.lock'] });
    expect(filter.matches('tmp', dir)).toBe(true);
    expect(filter.matches('tmp', file)).toBe(false);
    expect(filter.matches('workspace/tmp', dir)).toBe(false);
    expect(filter.matches('a/b/x.lock', file)).toBe(true);
    expect(filter.matches('a/b/x.locked', file)).toBe(false);
  });

  /** Those of `entries` (paths; a folder's with `/` at its end) that `filter` names as residue. */
  const residueAmong = (filter: ResidueFilter, entries: string[]) =>
    entries.filter((e) => (e.endsWith('/') ? filter.matches(e.slice(0, -1), dir) : filter.matches(e, file)));

  it('reads patterns as gitignore does: ** spans folders, ! re-includes, an inner / anchors, a trailing / wants a folder', () => {
    const filter = new ResidueFilter({
      patterns: ['**/cache/', 'sessions/**/scratch', 'logs/**', 'plugins/state/', '*.lock', '!keep.lock', '\\#draft'],
    });
    const entries = [
      ...['cache/', 'a/b/cache/', 'a/b/cache'],
      ...['sessions/scratch', 'sessions/s1/today/scratch/', 'other/sessions/s1/scratch'],
      ...['logs/gateway.log', 'logs/'], // `x/**` is what is inside x, not x
      ...['plugins/state/', 'plugins/state', 'x/plugins/state/'],
      ...['a/gateway.lock', 'a/keep.lock', '#draft'],
      'GATEWAY.LOCK', // as git on Linux, case matters (the `ignore` package's default would not)
    ];
    expect(residueAmong(filter, entries)).toEqual([
      'cache/',
      'a/b/cache/',
      'sessions/scratch',
      'sessions/s1/today/scratch/',
      'logs/gateway.log',
      'plugins/state/',
      'a/gateway.lock',
      '#draft',
    ]);
  });

  it('a file under an excluded folder stays excluded, as in git, whatever a ! says', () => {
    const filter = new ResidueFilter({ patterns: ['/tmp/', '!/tmp/keep.json', 'runtime/*', '!runtime/keep.json'] });
    expect(residueAmong(filter, ['tmp/keep.json', 'runtime/other.json', 'runtime/keep.json'])).toEqual([
      'tmp/keep.json',
      'runtime/other.json',
    ]);
  });

  it('reads a PID from a bare number only in a pid or lock file, and from JSON by its pid field', () => {
    expect(ownerPidOf('gateway.pid', '123\n')).toBe(123);
    expect(ownerPidOf('counter.txt', '123')).toBeUndefined();
    expect(ownerPidOf('x.json', '{"pid": 42, "port": 1}')).toBe(42);
    expect(ownerPidOf('x.json', '{"pid": "42"}')).toBeUndefined();
  });
});

describe('gitignore patterns in real copies', () => {
  function stateWithNested(): string {
    const state = join(tempDir('rs-residue-glob-'), 'state');
    for (const rel of [
      'config.json',
      'agents/a1/cache/blob.bin',
      'agents/a1/sessions.json',
      'logs/gateway.log',
      'data/gateway.lock',
      'data/keep.lock',
    ])
      write(join(state, rel), rel);
    return state;
  }

  it("the rehearsal's private copy leaves out what **, x/** and a folder-only pattern name and keeps what ! re-includes", async () => {
    const state = stateWithNested();
    const copy = join(tempDir('rs-residue-glob-copy-'), 'state');
    await copyStatePrivately([state], copy, { residue: ['**/cache/', 'logs/**', '*.lock', '!keep.lock'] });
    expect(filesUnder(copy)).toEqual(['agents/a1/sessions.json', 'config.json', 'data/keep.lock']);
    expect(existsSync(join(copy, 'logs'))).toBe(true); // `logs/**` names what is inside logs/, not the folder
  });

  it('a checkpoint reconciled in the stop window anchors patterns at the state root inside a folder new since staging', async () => {
    const state = stateWithNested();
    const root = join(tempDir('rs-residue-glob-root-'), 'root');
    mkdirSync(root, { recursive: true });
    const base = {
      root,
      statePaths: [state],
      residue: ['/agents/**/scratch/'],
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    };
    await stageCheckpoint({ ...base, id: 'tx1' });
    // Written after the bulk copy: the window copies the new folder agents/a2 as a subtree of its own.
    write(join(state, 'agents/a2/scratch/partial.tmp'), 'in flight');
    write(join(state, 'agents/a2/sessions.json'), '{}');
    const manifest = await takeSnapshot({ ...base, id: 'tx1' });
    const stored = join(layoutOf(root).snapshot('tx1'), manifest.entries[0]!.stored!);
    expect(filesUnder(stored)).toContain('agents/a2/sessions.json');
    expect(filesUnder(stored).filter((f) => f.includes('scratch'))).toEqual([]);
  });
});
