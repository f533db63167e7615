// The bench's comparison of a peer installer's tree with npm's (bench/lib/peers.mjs): by the packages
// reachable from the installed package through Node's resolution, so npm's nested layout, bun's hoisted
// global folder and pnpm's symlinked virtual store compare equal when they hold the same name@version
// set, and a different pick on either side is reported.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error a bench module without types
import { comparePackages, scriptedPackages } from '../../bench/lib/peers.mjs';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function pkg(dir: string, json: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify(json));
  return dir;
}

const app = { name: 'app', version: '1.0.0', dependencies: { a: '^1', b: '^2' } };
const a = { name: 'a', version: '1.2.0', dependencies: { b: '^1' }, scripts: { postinstall: 'node x' } };

function layouts(bVersionTop = '2.0.0') {
  const root = mkdtempSync(join(tmpdir(), 'rs-peers-'));
  dirs.push(root);
  // npm: nested under the package, a's own b@1 nested under a.
  const npm = pkg(join(root, 'npm/lib/node_modules/app'), app);
  pkg(join(npm, 'node_modules/a'), a);
  pkg(join(npm, 'node_modules/a/node_modules/b'), { name: 'b', version: '1.0.0' });
  pkg(join(npm, 'node_modules/b'), { name: 'b', version: '2.0.0' });
  // bun: everything hoisted beside the package in its global folder.
  const global = join(root, 'bun/install/global/node_modules');
  const bun = pkg(join(global, 'app'), app);
  pkg(join(global, 'a'), a);
  pkg(join(global, 'a/node_modules/b'), { name: 'b', version: '1.0.0' });
  pkg(join(global, 'b'), { name: 'b', version: bVersionTop });
  // pnpm: a virtual store, each package's dependencies symlinked beside it.
  const store = join(root, 'pnpm/node_modules/.pnpm');
  const pnpmApp = pkg(join(store, 'app@1.0.0/node_modules/app'), app);
  pkg(join(store, 'a@1.2.0/node_modules/a'), a);
  pkg(join(store, 'b@1.0.0/node_modules/b'), { name: 'b', version: '1.0.0' });
  pkg(join(store, 'b@2.0.0/node_modules/b'), { name: 'b', version: '2.0.0' });
  const link = (from: string, to: string) => {
    mkdirSync(dirname(from), { recursive: true });
    symlinkSync(relative(dirname(from), to), from);
  };
  link(join(store, 'app@1.0.0/node_modules/a'), join(store, 'a@1.2.0/node_modules/a'));
  link(join(store, 'app@1.0.0/node_modules/b'), join(store, 'b@2.0.0/node_modules/b'));
  link(join(store, 'a@1.2.0/node_modules/b'), join(store, 'b@1.0.0/node_modules/b'));
  return { npm, bun, pnpm: pnpmApp };
}

describe('bench peers: package sets', () => {
  it("npm's nested, bun's hoisted and pnpm's linked layouts of the same tree compare equal", () => {
    const { npm, bun, pnpm } = layouts();
    expect(comparePackages(bun, npm)).toMatchObject({ equal: true, packages: 4, npmPackages: 4 });
    expect(comparePackages(pnpm, npm)).toMatchObject({ equal: true, packages: 4 });
  });

  it('reports a package picked differently, on both sides', () => {
    const { npm, bun } = layouts('2.1.0');
    expect(comparePackages(bun, npm)).toMatchObject({ equal: false, onlyPeer: ['b@2.1.0'], onlyNpm: ['b@2.0.0'] });
  });

  it('names the packages npm runs install scripts of (bun trusts exactly those)', () => {
    const { npm } = layouts();
    expect(scriptedPackages(npm)).toEqual(['a']);
  });
});
