// A restore killed halfway (kill -9: the boot-check's process, a power cut) leaves the state half put back, which no
// release may start on. The restore is journaled: a marker says it began, and whoever finds it unfinished runs it
// again (the next start's boot-check, to which `recover`'s restart leads), ending exactly on the checkpoint.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { restoreForTransaction } from '../../src/snapshot/boot-state.ts';
import { restoredFor, takeSnapshot, unfinishedRestore } from '../../src/snapshot/snapshot.ts';
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
