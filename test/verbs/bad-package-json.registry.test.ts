// A package.json that is not an object (a string, a number, null, an array) or lacks a name is BAD_PACKAGE_JSON
// (exit 1) wherever we read one: `install` of a tarball and `init --adopt` of a folder. Before, these were INTERNAL
// ("Cannot use 'in' operator", "Can not normalize without content": a bug report for a broken package) or
// WRONG_PACKAGE ("names undefined"). Nothing is left: no staging, no release, the root's links as they were.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cli, tempDir } from '../support/cli.ts';
import { linkOf, releaseDirs, stagingEntries } from '../support/root.ts';

const BROKEN = [
  ['a string', '"a string"'],
  ['a number', '42'],
  ['null', 'null'],
  ['an array', '[1, 2]'],
  ['an object without a name', '{ "version": "1.0.0" }'],
];

async function tarballWith(packageJson: string): Promise<string> {
  const dir = tempDir('rs-bad-pkg-');
  mkdirSync(join(dir, 'package'));
  writeFileSync(join(dir, 'package', 'package.json'), `${packageJson}\n`);
  writeFileSync(join(dir, 'package', 'index.js'), 'console.log(1)\n');
  await execa('tar', ['czf', 'p.tgz', 'package'], { cwd: dir });
  return join(dir, 'p.tgz');
}

describe('a package.json that is not a package manifest', () => {
  it.each(BROKEN)(
    'install of a tarball whose package.json is %s: BAD_PACKAGE_JSON, nothing left',
    async (_what, text) => {
      const root = join(tempDir('rs-root-'), 'root');
      expect((await cli(['--root', root, '--json', 'init', '--package', 'rs-fixture-gateway'])).exitCode).toBe(0);
      const r = await cli(['--root', root, '--json', 'install', await tarballWith(text)]);
      expect([r.exitCode, r.json?.error?.code], r.stdout + r.stderr).toEqual([1, 'BAD_PACKAGE_JSON']);
      expect(r.json.error.hint).toBeTruthy();
      expect(r.stderr).not.toMatch(/TypeError|at .*node_modules/);
      expect(stagingEntries(root)).toEqual([]);
      expect(releaseDirs(root)).toEqual([]);
      expect(linkOf(root, 'current')).toBeNull();
    },
  );

  it.each(BROKEN)('init --adopt of a folder whose package.json is %s: BAD_PACKAGE_JSON', async (_what, text) => {
    const folder = tempDir('rs-adopt-src-');
    writeFileSync(join(folder, 'package.json'), `${text}\n`);
    const root = join(tempDir('rs-root-'), 'root');
    const r = await cli(['--root', root, '--json', 'init', '--package', 'rs-fixture-gateway', '--adopt', folder]);
    expect([r.exitCode, r.json?.error?.code], r.stdout + r.stderr).toEqual([1, 'BAD_PACKAGE_JSON']);
    expect(releaseDirs(root)).toEqual([]);
  });
});
