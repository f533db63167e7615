// Where the pinned copy puts each production dependency (src/tool/closure.ts): npm's nesting kept as it is, pnpm's
// packages (outside the package folder, reached through links) hoisted or nested, and every one resolving in the copy
// to the very package it resolved to in the installation.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { dependencyClosure } from '../../src/tool/closure.ts';

function tree(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rs-closure-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function pkg(dir: string, name: string, version: string, dependencies: Record<string, string> = {}, extra = {}): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version, dependencies, ...extra }));
}

it("npm's layout: each package keeps its place, a nested copy of another version included", async () => {
  const root = path.join(tree(), 'tool');
  pkg(root, 'tool', '1.0.0', { a: '1', c: '1' }, { optionalDependencies: { 'not-here': '1' } });
  pkg(path.join(root, 'node_modules', 'a'), 'a', '1.0.0', { c: '2' });
  pkg(path.join(root, 'node_modules', 'a', 'node_modules', 'c'), 'c', '2.0.0');
  pkg(path.join(root, 'node_modules', 'c'), 'c', '1.0.0');
  pkg(path.join(root, 'node_modules', 'dev-only'), 'dev-only', '1.0.0');
  const placed = await dependencyClosure(root);
  expect(Object.fromEntries(placed.map((p) => [p.to, path.relative(root, p.from)]))).toEqual({
    '': '',
    'node_modules/a': 'node_modules/a',
    'node_modules/c': 'node_modules/c',
    'node_modules/a/node_modules/c': 'node_modules/a/node_modules/c',
  });
});

it("pnpm's layout: the package is a link into .pnpm, its dependencies siblings there; hoisted, or nested when taken", async () => {
  const dir = tree();
  const store = path.join(dir, '.pnpm');
  const inStore = (id: string, name: string) => path.join(store, id, 'node_modules', name);
  pkg(inStore('tool@1.0.0', 'tool'), 'tool', '1.0.0', { a: '1', c: '1' });
  pkg(inStore('a@1.0.0', 'a'), 'a', '1.0.0', { c: '2' });
  pkg(inStore('c@1.0.0', 'c'), 'c', '1.0.0');
  pkg(inStore('c@2.0.0', 'c'), 'c', '2.0.0');
  symlinkSync(inStore('a@1.0.0', 'a'), path.join(store, 'tool@1.0.0', 'node_modules', 'a'));
  symlinkSync(inStore('c@1.0.0', 'c'), path.join(store, 'tool@1.0.0', 'node_modules', 'c'));
  symlinkSync(inStore('c@2.0.0', 'c'), path.join(store, 'a@1.0.0', 'node_modules', 'c'));
  const global = path.join(dir, 'global', 'node_modules');
  mkdirSync(global, { recursive: true });
  symlinkSync(inStore('tool@1.0.0', 'tool'), path.join(global, 'tool'));
  const placed = await dependencyClosure(path.join(global, 'tool'));
  expect(Object.fromEntries(placed.map((p) => [p.to, path.relative(store, p.from)]))).toEqual({
    '': 'tool@1.0.0/node_modules/tool',
    'node_modules/a': 'a@1.0.0/node_modules/a',
    'node_modules/c': 'c@1.0.0/node_modules/c',
    // c@2 cannot take the top place c@1 has: nested under a, where a's require('c') finds it first.
    'node_modules/a/node_modules/c': 'c@2.0.0/node_modules/c',
  });
});

it('a dependency that is not installed is refused with a hint, an optional one is left out', async () => {
  const root = path.join(tree(), 'tool');
  pkg(root, 'tool', '1.0.0', { gone: '1' });
  await expect(dependencyClosure(root)).rejects.toMatchObject({
    code: 'UNSUPPORTED',
    message: expect.stringContaining('dependency gone cannot be found'),
  });
});
