// A local tarball (`install ./pkg.tgz`, the way CI artefacts and private builds arrive) and a tarball URL are staged
// as a registry version is: the tree of the tarball's dependencies is resolved (from its own package.json, the
// dependencies from the registry), the fast path places them (linked from the previous release where unchanged),
// the resolved tree is kept for the next staging of the same tarball (or registry version, after a prune), and the
// release equals what `npm install -g <tarball>` installs. The tarball's own integrity and path stay what the release
// records.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultTestAccount } from '../support/accounts.ts';
import { fixtureRoot, rs, tempDir } from '../support/cli.ts';
import { npm, publish } from '../support/registry.ts';
import { treeOf } from '../support/root.ts';
import { npmGlobal as npmGlobalOf } from '../support/npm-packages.ts';

const NAME = 'rs-fixture-localtgz';
const DEP = 'rs-fixture-localtgz-dep';
const SLOW = 240_000;

function writePackage(files: Record<string, string>): string {
  const dir = tempDir('rs-localtgz-src-');
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** The app at `version` with these dependencies, packed into a folder of its own. */
async function packApp(version: string, dependencies: Record<string, string>): Promise<string> {
  const src = writePackage({
    'package.json': JSON.stringify({ name: NAME, version, main: 'server.js', dependencies }, null, 2),
    'server.js': `console.log(${JSON.stringify(version)});\n`,
  });
  const out = tempDir('rs-localtgz-tgz-');
  await npm(['pack', src, '--pack-destination', out], { registry: inject('registryUrl') });
  return join(out, `${NAME}-${version}.tgz`);
}

/** The judge: `npm install -g` of the same tarball (or URL); the package's folder there. */
const npmGlobal = (spec: string) => npmGlobalOf(spec, NAME);

const sri = (file: string) => `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;

describe('staging a tarball (a file or a URL)', () => {
  let v1: string;
  let v2: string;

  beforeAll(async () => {
    const registry = inject('registryUrl');
    for (const version of ['1.0.0', '1.1.0']) {
      const dep = writePackage({
        'package.json': JSON.stringify({ name: DEP, version }),
        'index.js': `module.exports = ${JSON.stringify(version)};\n`,
      });
      await publish(dep, { registry });
    }
    v1 = await packApp('1.0.0', { 'rs-fixture-dep': '1.1.0', [DEP]: '1.0.0' });
    // 2.0.0 exists only as this file (a private build): its tree comes from the tarball, not from the registry.
    v2 = await packApp('2.0.0', { 'rs-fixture-dep': '1.1.0', [DEP]: '1.1.0' });
    await publish(v1, { registry });
  }, SLOW);

  it(
    'resolves the tree of ./pkg.tgz and takes the fast path, linking from the previous release; both equal npm install -g of the tarball',
    async () => {
      const root = await fixtureRoot(['--package', NAME]);
      const first = await rs(root, ['install', `./${basename(v1)}`], { cwd: dirname(v1) });
      expect(first.exitCode, first.stdout + first.stderr).toBe(0);
      expect(first.json.result).toMatchObject({ version: '1.0.0', fallback: null, integrity: sri(v1) });
      expect(first.stderr).toMatch(/resolve: 2 dependencies resolved with Node/);
      expect(treeOf(join(root, 'releases/1.0.0'))).toEqual(treeOf(await npmGlobal(v1)));

      const second = await rs(root, ['install', v2]);
      expect(second.exitCode, second.stdout + second.stderr).toBe(0);
      // rs-fixture-dep is unchanged (linked from 1.0.0); the other dependency changed (extracted).
      expect(second.json.result).toMatchObject({ version: '2.0.0', fallback: null, reused: { packages: 1 } });
      const dep = 'node_modules/rs-fixture-dep/package.json';
      expect(statSync(join(root, 'releases/2.0.0', dep)).ino).toBe(statSync(join(root, 'releases/1.0.0', dep)).ino);
      expect(treeOf(join(root, 'releases/2.0.0'))).toEqual(treeOf(await npmGlobal(v2)));

      // What the release records of the tarball: its own integrity and where it came from, as before.
      const list = await rs(root, ['list']);
      const records = Object.fromEntries(
        list.json.result.releases.map((r: { version: string }) => [r.version, r] as const),
      );
      expect(records['2.0.0']).toMatchObject({ integrity: sri(v2), source: v2 });
      expect(records['1.0.0']).toMatchObject({ integrity: sri(v1), source: v1 });
    },
    SLOW,
  );

  it(
    'gives the kept tree to the same tarball staged again on another root, without resolving it again',
    async () => {
      const first = await fixtureRoot(['--package', NAME]);
      expect((await rs(first, ['install', v2])).exitCode).toBe(0);
      const again = await fixtureRoot(['--package', NAME]);
      const r = await rs(again, ['install', v2]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.json.result.fallback).toBeNull();
      // Staged by the default test account (a normal account wherever the run can make one: CI as root), whose own npm
      // cache keeps the tree and the guess of it.
      const who = defaultTestAccount();
      if (who) expect(statSync(join(again, 'releases/2.0.0')).uid).toBe(who.uid);
      // The same path staged again: its tree was guessed and revalidated while the tarball was read (tree-ahead.ts).
      expect(r.stderr).toMatch(
        /kept from an earlier resolution, \d+ packuments unchanged, asked while the package was fetched/,
      );
      expect(treeOf(join(again, 'releases/2.0.0'))).toEqual(treeOf(join(first, 'releases/2.0.0')));
    },
    SLOW,
  );

  it(
    'gives the kept tree to a registry version staged again after a prune, equal to the first staging',
    async () => {
      const root = await fixtureRoot(['--package', NAME]);
      const first = await rs(root, ['install', `${NAME}@1.0.0`]);
      expect(first.exitCode, first.stdout + first.stderr).toBe(0);
      const before = treeOf(join(root, 'releases/1.0.0'));
      const pruned = await rs(root, ['prune', '--keep', '0']);
      expect(pruned.json.result.removed).toEqual(['1.0.0']);
      const again = await rs(root, ['install', `${NAME}@1.0.0`]);
      expect(again.exitCode, again.stdout + again.stderr).toBe(0);
      expect(again.json.result).toMatchObject({ alreadyInstalled: false, fallback: null });
      // Staged by the default test account (a normal account wherever the run can make one: CI as root).
      const who = defaultTestAccount();
      if (who) expect(statSync(join(root, 'releases/1.0.0')).uid).toBe(who.uid);
      // The spec's tree was guessed and revalidated while the package's packument was fetched (tree-ahead.ts).
      expect(again.stderr).toMatch(
        /kept from an earlier resolution, \d+ packuments unchanged, asked while the package was fetched/,
      );
      expect(treeOf(join(root, 'releases/1.0.0'))).toEqual(before);
    },
    SLOW,
  );

  it(
    'stages a tarball that bundles a package (bundleDependencies) on the fast path, equal to npm install -g of it',
    async () => {
      // The tree is resolved from the tarball's package.json alone: the bundled package comes from the tarball.
      const src = writePackage({
        'package.json': JSON.stringify(
          {
            name: NAME,
            version: '3.0.0',
            main: 'server.js',
            dependencies: { 'rs-fixture-dep': '1.1.0', 'rs-fixture-localtgz-bundled': '1.0.0' },
            bundleDependencies: ['rs-fixture-localtgz-bundled'],
          },
          null,
          2,
        ),
        'server.js': 'console.log("3.0.0");\n',
      });
      const bundled = join(src, 'node_modules/rs-fixture-localtgz-bundled');
      mkdirSync(bundled, { recursive: true });
      writeFileSync(
        join(bundled, 'package.json'),
        JSON.stringify({ name: 'rs-fixture-localtgz-bundled', version: '1.0.0' }),
      );
      writeFileSync(join(bundled, 'index.js'), 'module.exports = "bundled";\n');
      const out = tempDir('rs-localtgz-tgz-');
      await npm(['pack', src, '--pack-destination', out], { registry: inject('registryUrl') });
      const tgz = join(out, `${NAME}-3.0.0.tgz`);
      const root = await fixtureRoot(['--package', NAME]);
      const r = await rs(root, ['install', tgz]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.json.result).toMatchObject({ version: '3.0.0', fallback: null });
      expect(treeOf(join(root, 'releases/3.0.0'))).toEqual(treeOf(await npmGlobal(tgz)));
    },
    SLOW,
  );

  it(
    'resolves the tree of a tarball URL and takes the fast path; equal to npm install -g of the URL',
    async () => {
      const url = `${inject('registryUrl')}${NAME}/-/${NAME}-1.0.0.tgz`;
      const root = await fixtureRoot(['--package', NAME]);
      const r = await rs(root, ['install', url]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.json.result).toMatchObject({ version: '1.0.0', fallback: null, integrity: sri(v1) });
      expect(treeOf(join(root, 'releases/1.0.0'))).toEqual(treeOf(await npmGlobal(url)));
    },
    SLOW,
  );
});
