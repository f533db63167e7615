// The checkpoint taken where it costs nothing: the bulk copy is staged while the old release serves, and the stop
// window only reconciles what changed since; the result is what a full copy made in the window would be. Checkpoints
// share unchanged files (hard links between checkpoints, never to the live state), and removing one leaves the other
// whole.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeSnapshot, restoreSnapshot, stageCheckpoint, takeSnapshot } from '../../src/snapshot/snapshot.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { tempDir } from '../support/cli.ts';

const write = (p: string, text: string) => {
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
};

/** path → content (or `-> target` for a link), of every entry under `dir`. */
function tree(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = join(rel, e.name);
    if (e.isDirectory()) Object.assign(out, tree(dir, r));
    else if (e.isSymbolicLink()) out[r] = `-> ${execFileSync('readlink', [join(dir, r)], { encoding: 'utf8' })}`;
    else out[r] = readFileSync(join(dir, r), 'utf8');
  }
  return out;
}

/** Returns once the kernel's ctime clock has moved past `file`'s ctime (it ticks coarsely: a few ms). */
function afterCtimeOf(file: string): void {
  const probe = `${file}.tick`;
  const before = statSync(file).ctimeMs;
  do writeFileSync(probe, '');
  while (statSync(probe).ctimeMs <= before);
  rmSync(probe);
}

async function setUp() {
  const state = join(tempDir('rs-staged-'), '.openclaw');
  for (let i = 0; i < 50; i += 1) write(join(state, `plugins/p${i}/index.js`), `plugin ${i}`);
  write(join(state, 'credentials/oauth.json'), '{"token":"aaaa"}');
  write(join(state, 'gone-later.json'), 'x');
  symlinkSync('plugins/p0', join(state, 'link'));
  const root = join(tempDir('rs-staged-root-'), 'root');
  mkdirSync(root, { recursive: true });
  afterCtimeOf(join(state, 'gone-later.json')); // the state was written before any copy began, as in life
  const base = { root, statePaths: [state], residue: ['/tmp/', '*.lock'], fromVersion: '1.0.0', toVersion: '2.0.0' };
  return { state, root, base, layout: layoutOf(root) };
}

describe('a staged checkpoint', () => {
  it('reconciled in the stop window equals a full copy made then, and copies only what changed', async () => {
    const { state, root, base, layout } = await setUp();
    await stageCheckpoint({ ...base, id: 'tx1' });
    const stagedInode = statSync(join(layout.snapshots, '.staged-tx1/data/0/plugins/p7/index.js')).ino;
    // While the old release still serves: a same-size rewrite, a new file, a deletion, a moved link, a live lock.
    write(join(state, 'credentials/oauth.json'), '{"token":"bbbb"}');
    write(join(state, 'plugins/new/index.js'), 'new');
    rmSync(join(state, 'gone-later.json'));
    rmSync(join(state, 'link'));
    symlinkSync('plugins/p1', join(state, 'link'));
    write(join(state, 'tmp/openclaw-0/gateway.state.lock'), JSON.stringify({ pid: process.pid }));
    const manifest = await takeSnapshot({ ...base, id: 'tx1' });
    const stored = join(layout.snapshot('tx1'), manifest.entries[0]!.stored!);
    const full = join(tempDir('rs-staged-full-'), 'root');
    mkdirSync(full, { recursive: true });
    const fullManifest = await takeSnapshot({ ...base, root: full, id: 'full' });
    expect(tree(stored)).toEqual(tree(join(layoutOf(full).snapshot('full'), fullManifest.entries[0]!.stored!)));
    expect(tree(stored)['credentials/oauth.json']).toBe('{"token":"bbbb"}');
    // The unchanged file is the staged copy itself, not copied again in the window.
    expect(statSync(join(stored, 'plugins/p7/index.js')).ino).toBe(stagedInode);
    expect(readdirSync(layout.snapshots).filter((n) => n.startsWith('.'))).toEqual([]);
    void root;
  });

  it('a later checkpoint shares unchanged files with the earlier one (never with the live state); removing the earlier leaves it whole', async () => {
    const { state, base, layout } = await setUp();
    const first = await takeSnapshot({ ...base, id: 'tx1' });
    write(join(state, 'credentials/oauth.json'), '{"token":"cccc"}');
    await stageCheckpoint({ ...base, id: 'tx2' });
    const second = await takeSnapshot({ ...base, id: 'tx2' });
    const a = join(layout.snapshot('tx1'), first.entries[0]!.stored!);
    const b = join(layout.snapshot('tx2'), second.entries[0]!.stored!);
    expect(statSync(join(b, 'plugins/p3/index.js')).ino).toBe(statSync(join(a, 'plugins/p3/index.js')).ino);
    expect(statSync(join(b, 'credentials/oauth.json')).ino).not.toBe(statSync(join(a, 'credentials/oauth.json')).ino);
    for (const f of ['plugins/p3/index.js', 'credentials/oauth.json'])
      expect(statSync(join(state, f)).nlink, `${f} is linked to nothing`).toBe(1);
    await removeSnapshot(layout, 'tx1');
    expect(tree(b)).toEqual(tree(state));
  });

  it('a restore from checkpoints that share files links nothing live to them: the service writing in place changes no checkpoint', async () => {
    const { state, base, layout } = await setUp();
    const first = await takeSnapshot({ ...base, id: 'tx1' });
    const second = await takeSnapshot({ ...base, id: 'tx2' });
    const a = join(layout.snapshot('tx1'), first.entries[0]!.stored!);
    const b = join(layout.snapshot('tx2'), second.entries[0]!.stored!);
    expect(statSync(join(b, 'plugins/p3/index.js')).nlink).toBe(2); // shared between the two checkpoints
    const [beforeA, beforeB] = [tree(a), tree(b)];
    for (let i = 0; i < 50; i += 1) write(join(state, `plugins/p${i}/index.js`), `newer ${i}`);
    await restoreSnapshot({ root: base.root, id: 'tx2' });
    expect(tree(state)).toEqual(beforeB);
    for (const f of Object.keys(tree(state)).filter((f) => !f.startsWith('link')))
      expect(statSync(join(state, f)).nlink, `${f} is linked to nothing`).toBe(1);
    // The service writes its files in place (same inode): no checkpoint may see it.
    for (let i = 0; i < 50; i += 1)
      writeFileSync(join(state, `plugins/p${i}/index.js`), `in place ${i}`, { flag: 'r+' });
    expect(tree(a)).toEqual(beforeA);
    expect(tree(b)).toEqual(beforeB);
  });
});
