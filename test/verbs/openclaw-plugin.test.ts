// openclawPlugin writes a folder it may have to replace: never one of the user's. (The folder it writes is tested
// from the installed package in test/api/tarball.registry.test.ts.)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { openclawPlugin } from '../../src/verbs/openclaw-plugin.ts';

it('refuses a folder that is not empty and holds no plugin written before, and leaves it as it was', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-test-plugin-out-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'notes'));
  writeFileSync(join(dir, 'notes', 'todo.txt'), 'mine\n');
  const refused = await openclawPlugin({ out: dir }).then(
    () => null,
    (error: { code?: string; exitCode?: number; message?: string }) => error,
  );
  expect(refused).toMatchObject({ code: 'USAGE', exitCode: 2 });
  expect(refused?.message).toContain('is not empty and holds no plugin written before');
  expect(readFileSync(join(dir, 'notes', 'todo.txt'), 'utf8')).toBe('mine\n');
});
