// A restore killed halfway (kill -9: the boot-check's process, a power cut) leaves the state half put back, which no
// release may start on. The restore is journaled: a marker says it began, and whoever finds it unfinished runs it
// again (the next start's boot-check, to which `recover`'s restart leads), ending exactly on the checkpoint.
import { spawnSync } from 'node:child_process';
import {
  type Dirent,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { restoreForTransaction } from '../../src/snapshot/boot-state.ts';
import { readSnapshot, restoredFor, takeSnapshot, unfinishedRestore } from '../../src/snapshot/snapshot.ts';
import { listSwapRecords, readSwapRecord } from '../../src/snapshot/swap-record.ts';
import { discardSwap, keepSetAside, prepareSwap } from '../../src/snapshot/swap.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { tempDir } from '../support/cli.ts';

const dist = resolve(import.meta.dirname, '../../dist');

/** Run the built restore in a child with the crash point armed; it must die of SIGKILL there. */
function restoreUntil(point: string, root: string): void {
  const script = `const { armCrashPoint } = await import(${JSON.stringify(`${dist}/platform/crashpoint.js`)});
const { restoreForTransaction } = await import(${JSON.stringify(`${dist}/snapshot/boot-state.js`)});
const { layoutOf } = await import(${JSON.stringify(`${dist}/store/layout.js`)});
armCrashPoint(${JSON.stringify(point)});
await restoreForTransaction(layoutOf(${JSON.stringify(root)}), 'tx1', { tx: 'tx2', version: '1.0.0' });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(r.signal, `${point} was never reached: ${r.stdout}${r.stderr}`).toBe('SIGKILL');
}

const files = Array.from({ length: 20 }, (_, i) => `plugins/p${String(i).padStart(2, '0')}/index.js`);

async function checkpointed(): Promise<{ root: string; state: string }> {
  const state = join(tempDir('rs-rcrash-state-'), '.openclaw');
  for (const f of files) {
    mkdirSync(join(state, f, '..'), { recursive: true });
    writeFileSync(join(state, f), `9.5 ${f}`);
  }
  const root = join(tempDir('rs-rcrash-root-'), 'root');
  mkdirSync(root, { recursive: true });
  await takeSnapshot({ root, id: 'tx1', statePaths: [state], fromVersion: '1.0.0', toVersion: '2.0.0' });
  // The newer release rewrites every file and adds one.
  for (const f of files) writeFileSync(join(state, f), `9.6 ${f}`);
  writeFileSync(join(state, 'plugins/new.js'), '9.6');
  return { root, state };
}

describe('a restore killed halfway', () => {
  for (const point of ['restore:begin', 'restore:partial'])
    it(`kill -9 at ${point}: the marker says it is unfinished; running it again ends exactly on the checkpoint`, async () => {
      const { root, state } = await checkpointed();
      const layout = layoutOf(root);
      restoreUntil(point, root);
      expect(await unfinishedRestore(layout, 'tx1')).toMatchObject({ tx: 'tx2' });
      expect(await restoredFor(layout, 'tx1', 'tx2')).toBeUndefined();
      const back = files.filter((f) => readFileSync(join(state, f), 'utf8').startsWith('9.5'));
      expect(back.length).toBe(point === 'restore:begin' ? 0 : 1); // half put back (or not begun)
      await restoreForTransaction(layout, 'tx1', { tx: 'tx2', version: '1.0.0' });
      for (const f of files) expect(readFileSync(join(state, f), 'utf8')).toBe(`9.5 ${f}`);
      expect(existsSync(join(state, 'plugins/new.js'))).toBe(false);
      expect(await unfinishedRestore(layout, 'tx1')).toBeUndefined();
      expect(await restoredFor(layout, 'tx1', 'tx2')).toMatchObject({ by: 'boot-check' });
    });
});

// The same restore with the checkpoint made ready before the stop (snapshot/swap.ts): the boot-check moves the live
// entries aside and the ready ones in, by rename, and what the newer release left is kept as checkpoint `<tx>-aside`.
describe('a restore by rename', () => {
  /** Every file below `dir` with its content (the ready/aside folders of a swap included, if any are left). */
  const contents = (dir: string): Record<string, string> =>
    Object.fromEntries(
      (readdirSync(dir, { recursive: true, withFileTypes: true }) as Dirent[])
        .filter((e) => e.isFile())
        .map((e) => {
          const p = join(e.parentPath, e.name);
          return [relative(dir, p), readFileSync(p, 'utf8')];
        }),
    );
  const newer = () => Object.fromEntries([...files.map((f) => [f, `9.6 ${f}`]), ['plugins/new.js', '9.6']]);
  const older = () => Object.fromEntries(files.map((f) => [f, `9.5 ${f}`]));

  async function prepared(root: string, tx = 'tx2') {
    const layout = layoutOf(root);
    const manifest = (await readSnapshot(layout, 'tx1'))!;
    const ready = await prepareSwap({ root, snapshot: manifest, tx });
    return { layout, manifest, ready };
  }

  it('swaps the ready copy in (the files are the copy made before the stop), and keeps what it replaced whole', async () => {
    const { root, state } = await checkpointed();
    const { layout, manifest, ready } = await prepared(root);
    expect(ready).toMatchObject({ folders: 1 });
    // Made before the stop: the inode each file will have once swapped in.
    const readyDir = join(state, '.release-switcher-ready-tx2-aside');
    const inode = (p: string) => statSync(p).ino;
    const before = Object.fromEntries(files.map((f) => [f, inode(join(readyDir, f))]));
    expect(contents(state)).toEqual({ ...newer(), ...prefixed('.release-switcher-ready-tx2-aside', older()) });

    await restoreForTransaction(layout, 'tx1', { tx: 'tx2', version: '1.0.0' });
    for (const f of files) expect(inode(join(state, f)), f).toBe(before[f]); // renamed, not copied
    expect(contents(state)).toEqual({
      ...older(),
      ...prefixed('.release-switcher-aside-tx2-aside', newer()),
      '.release-switcher-aside-tx2-aside/.release-switcher-moved-out': '',
    });

    const id = await keepSetAside({ root, snapshot: manifest, tx: 'tx2', fromVersion: '2.0.0', toVersion: '1.0.0' });
    expect(id).toBe('tx2-aside');
    expect(contents(state)).toEqual(older()); // nothing of the swap left in the state
    const aside = (await readSnapshot(layout, 'tx2-aside'))!;
    expect(aside).toMatchObject({ setAsideBy: 'tx2', fromVersion: '2.0.0', toVersion: '1.0.0' });
    expect(contents(join(layout.snapshot('tx2-aside'), aside.entries[0]!.stored!))).toEqual(newer());
    expect(contents(join(layout.snapshot('tx1'), 'data', '0'))).toEqual(older()); // the checkpoint as it was
    expect(await listSwapRecords(layout)).toEqual([]);

    // The way back of that way back (the same transaction, its release failing): the set-aside swapped in the same
    // way brings the newer release's state back, and what it replaces is kept in turn, under the next id.
    const again = await prepareSwap({ root, snapshot: aside, tx: 'tx2' });
    expect(again).toMatchObject({ folders: 1 });
    await restoreForTransaction(layout, 'tx2-aside', { tx: 'tx2', version: '2.0.0' });
    expect(await keepSetAside({ root, snapshot: aside, tx: 'tx2', fromVersion: '1.0.0', toVersion: '2.0.0' })).toBe(
      'tx2-aside-2',
    );
    expect(contents(state)).toEqual(newer());
    expect(contents(join(layout.snapshot('tx2-aside-2'), 'data', '0'))).toEqual(older());
    expect(await listSwapRecords(layout)).toEqual([]);
  });

  it('leaves independent folders where they are, at the top or deeper down, and carries them into the new tree', async () => {
    const state = join(tempDir('rs-swap-state-'), '.openclaw');
    mkdirSync(join(state, 'workspace'), { recursive: true });
    mkdirSync(join(state, 'agents', 'main', 'memory'), { recursive: true });
    writeFileSync(join(state, 'workspace', 'notes.md'), 'old notes');
    writeFileSync(join(state, 'agents', 'main', 'memory', 'm.db'), 'old memory');
    writeFileSync(join(state, 'agents', 'main', 'agent.json'), '9.5');
    const root = join(tempDir('rs-swap-root-'), 'root');
    const independentPaths = [join(state, 'workspace'), join(state, 'agents', 'main', 'memory')];
    await takeSnapshot({
      root,
      id: 'tx1',
      statePaths: [state],
      independentPaths,
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    writeFileSync(join(state, 'workspace', 'notes.md'), 'new notes');
    writeFileSync(join(state, 'agents', 'main', 'memory', 'm.db'), 'new memory');
    writeFileSync(join(state, 'agents', 'main', 'agent.json'), '9.6');
    const { layout, manifest } = await prepared(root);
    await restoreForTransaction(layout, 'tx1', { tx: 'tx2', version: '1.0.0' });
    await keepSetAside({ root, snapshot: manifest, tx: 'tx2', fromVersion: '2.0.0', toVersion: '1.0.0' });
    expect(contents(state)).toEqual({
      'workspace/notes.md': 'new notes',
      'agents/main/memory/m.db': 'new memory',
      'agents/main/agent.json': '9.5',
    });
    expect(contents(join(layout.snapshot('tx2-aside'), 'data', '0'))).toEqual({ 'agents/main/agent.json': '9.6' });
  });

  for (const point of ['restore:swap-out', 'restore:swap-in'])
    it(`kill -9 at ${point}: running it again goes on from where it stood and ends exactly on the checkpoint, nothing lost`, async () => {
      const { root, state } = await checkpointed();
      writeFileSync(join(state, 'config.json'), '9.6 config'); // a second top-level entry: the cut falls between two
      const { layout, manifest } = await prepared(root);
      restoreUntil(point, root);
      expect(await unfinishedRestore(layout, 'tx1')).toMatchObject({ tx: 'tx2' });
      expect(contents(state)).not.toEqual(older());
      await restoreForTransaction(layout, 'tx1', { tx: 'tx2', version: '1.0.0' });
      await keepSetAside({ root, snapshot: manifest, tx: 'tx2', fromVersion: '2.0.0', toVersion: '1.0.0' });
      expect(contents(state)).toEqual(older());
      expect(contents(join(layout.snapshot('tx2-aside'), 'data', '0'))).toEqual({
        ...newer(),
        'config.json': '9.6 config',
      });
      expect(await unfinishedRestore(layout, 'tx1')).toBeUndefined();
    });

  it('a ready copy cut halfway is never swapped in; made ready again, it is complete under the same id', async () => {
    const { root, state } = await checkpointed();
    const { layout, manifest } = await prepared(root);
    // As a runner killed mid-copy leaves it: the record says incomplete, files are missing from the copy.
    const recordFile = join(layout.snapshot('tx1'), 'swap-tx2.json');
    const record = JSON.parse(readFileSync(recordFile, 'utf8'));
    writeFileSync(recordFile, JSON.stringify({ ...record, complete: false }));
    rmSync(join(state, '.release-switcher-ready-tx2-aside', 'plugins'), { recursive: true });
    expect(await readSwapRecord(layout, 'tx1', 'tx2')).toBeUndefined(); // what a restore reads: copies back instead
    expect(await listSwapRecords(layout)).toEqual([expect.objectContaining({ tx: 'tx2', complete: false })]);
    expect(await prepareSwap({ root, snapshot: manifest, tx: 'tx2' })).toMatchObject({ folders: 1 });
    expect(await readSwapRecord(layout, 'tx1', 'tx2')).toMatchObject({ setAside: 'tx2-aside', complete: true });
    await restoreForTransaction(layout, 'tx1', { tx: 'tx2', version: '1.0.0' });
    await keepSetAside({ root, snapshot: manifest, tx: 'tx2', fromVersion: '2.0.0', toVersion: '1.0.0' });
    expect(contents(state)).toEqual(older());
  });

  it('a swap made ready and never begun is found and its ready copy removed; checkpoints never carry one', async () => {
    const { root, state } = await checkpointed();
    const { layout } = await prepared(root);
    await takeSnapshot({ root, id: 'tx9', statePaths: [state], fromVersion: '2.0.0', toVersion: '3.0.0' });
    expect(contents(join(layout.snapshot('tx9'), 'data', '0'))).toEqual(newer());
    const [record] = await listSwapRecords(layout);
    expect(record).toMatchObject({ tx: 'tx2', snapshot: 'tx1' });
    await discardSwap(layout, record!);
    expect(contents(state)).toEqual(newer());
    expect(await listSwapRecords(layout)).toEqual([]);
  });
});

function prefixed(prefix: string, tree: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tree).map(([k, v]) => [`${prefix}/${k}`, v]));
}
