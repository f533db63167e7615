// A kept tree (stage/resolve/tree-cache.ts) very likely holds: staging places its packages as soon as it is read,
// while its packuments are still asked for, and keeps that placement once the tree given is the same. When the tree
// does not hold (a dependency published since, in range), what was placed from it is discarded before anything runs,
// and the tree resolved afresh is placed instead: the release is what `npm install -g` installs, nothing is left in
// staging. Staged by the suite's default test account (a normal account wherever the run can make one: CI as root).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultTestAccount } from '../support/accounts.ts';
import { fixtureRoot, rs } from '../support/cli.ts';
import { publish } from '../support/registry.ts';
import { treeOf } from '../support/root.ts';
import { npmGlobal, packageDir } from '../support/npm-packages.ts';
import { verifyRelease } from '../../src/store/release.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { mutableEntries } from '../../src/platform/immutable.ts';

const APP = 'rs-fixture-keptplace-app';
const DEP = 'rs-fixture-keptplace-dep';
const SLOW = 240_000;

/** A package folder whose index.js says which package it is. */
const writePackage = (pkg: Record<string, unknown>) =>
  packageDir(pkg, 'rs-keptplace-src-', `module.exports = ${JSON.stringify(`${pkg.name}@${pkg.version}`)};\n`);

const SPECULATIVE = /reuse: placing the 2 dependencies of the kept tree while it is revalidated/;
const DISCARDED = /reuse: the kept tree no longer holds: what was placed from it is discarded/;
const PLACED_AFTER = /reuse: placing 2 dependencies while the package unpacks/;
const depVersion = (release: string) =>
  JSON.parse(readFileSync(join(release, 'node_modules', DEP, 'package.json'), 'utf8')).version as string;

describe('the kept tree placed before it is known to hold', () => {
  beforeAll(async () => {
    const registry = inject('registryUrl');
    await publish(writePackage({ name: DEP, version: '1.0.0' }), { registry });
    for (const version of ['1.0.0', '1.0.1'])
      await publish(
        writePackage({ name: APP, version, dependencies: { [DEP]: '^1.0.0', 'rs-fixture-dep': '1.1.0' } }),
        { registry },
      );
  }, SLOW);

  it(
    'keeps the placement when the tree holds, discards it (links into the earlier release too) when a dependency was published since; each release equals npm install -g',
    async () => {
      // One root resolves both versions: their trees are kept in the account's npm cache.
      const first = await fixtureRoot(['--package', APP]);
      for (const version of ['1.0.0', '1.0.1']) {
        const resolved = await rs(first, ['install', `${APP}@${version}`]);
        expect(resolved.exitCode, resolved.stdout + resolved.stderr).toBe(0);
        expect(resolved.stderr).toMatch(PLACED_AFTER);
        expect(resolved.stderr).not.toMatch(SPECULATIVE);
      }

      // 1.0.0 on another root of the account: the kept tree is placed at once, and holds.
      const root = await fixtureRoot(['--package', APP]);
      const held = await rs(root, ['install', `${APP}@1.0.0`]);
      expect(held.exitCode, held.stdout + held.stderr).toBe(0);
      expect(held.json.result.fallback).toBeNull();
      expect(held.stderr).toMatch(SPECULATIVE);
      expect(held.stderr).toMatch(/kept from an earlier resolution, 3 packuments unchanged/);
      expect(held.stderr).not.toMatch(DISCARDED);
      expect(held.stderr).not.toMatch(PLACED_AFTER);
      const who = defaultTestAccount();
      if (who) expect(statSync(join(root, 'releases/1.0.0')).uid).toBe(who.uid);
      expect(treeOf(join(root, 'releases/1.0.0'))).toEqual(treeOf(join(first, 'releases/1.0.0')));
      const before = treeOf(join(root, 'releases/1.0.0'));

      // A dependency with a new version in range, then 1.0.1 on that root: 1.0.1's kept tree is placed (both packages
      // linked from 1.0.0), then found not to hold; the placement is discarded, the tree resolved afresh is placed.
      await publish(writePackage({ name: DEP, version: '1.1.0' }), { registry: inject('registryUrl') });
      const stale = await rs(root, ['install', `${APP}@1.0.1`]);
      expect(stale.exitCode, stale.stdout + stale.stderr).toBe(0);
      expect(stale.json.result.fallback).toBeNull();
      expect(stale.stderr).toMatch(SPECULATIVE);
      expect(stale.stderr).toMatch(DISCARDED);
      expect(stale.stderr).toMatch(PLACED_AFTER);
      expect(stale.stderr).not.toMatch(/kept from an earlier resolution/);
      // Of the tree given, rs-fixture-dep is 1.0.0's (linked); the dependency is the new one.
      expect(stale.json.result.reused.packages).toBe(1);
      const release = join(root, 'releases/1.0.1');
      expect(depVersion(release)).toBe('1.1.0');
      expect(treeOf(release)).toEqual(treeOf(await npmGlobal(`${APP}@1.0.1`, APP)));
      expect(readdirSync(join(root, 'staging'))).toEqual([]);
      // 1.0.0, which the discarded placement linked from, is as it was.
      expect(treeOf(join(root, 'releases/1.0.0'))).toEqual(before);
      await expect(verifyRelease(layoutOf(root), '1.0.0')).resolves.toMatchObject({ version: '1.0.0' });
      if (JSON.parse(readFileSync(join(root, 'releases/1.0.0/.release-switcher.json'), 'utf8')).immutable === true)
        expect(await mutableEntries(join(root, 'releases/1.0.0'))).toEqual([]);
    },
    SLOW,
  );
});
