// Where the dependency tree is resolved: in our own process when the configured Node has our major (no
// second Node start), in a child on the configured Node otherwise. Both must give the very tree
// `npm install -g` builds: here with an engine-gated dependency (arborist must judge engines against the
// configured Node's version, not guess), an optional package for another platform (dropped as npm's
// reify drops it) and a dependency shared with the other fixtures. Against the seeded Verdaccio.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import cacache from 'cacache';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveTree, resolvesInProcess } from '../../../dist/stage/resolve/resolve-tree.js';
import { tempDir } from '../../support/cli.ts';
import { npm, publish } from '../../support/registry.ts';
import { packageDir } from '../../support/npm-packages.ts';

const SLOW = 120_000;
const MAJOR = Number(process.versions.node.split('.')[0]);

const writePackage = (pkg: Record<string, unknown>) => packageDir(pkg, 'rs-resolve-src-');

beforeAll(async () => {
  const registry = inject('registryUrl');
  // 1.1.0 is `latest` and in range, but wants a Node of the next major: npm picks 1.0.0 on this Node.
  await publish(writePackage({ name: 'rs-fixture-resolve-engdep', version: '1.0.0', engines: { node: '>=1' } }), {
    registry,
  });
  await publish(
    writePackage({ name: 'rs-fixture-resolve-engdep', version: '1.1.0', engines: { node: `>=${MAJOR + 1}` } }),
    { registry },
  );
  await publish(writePackage({ name: 'rs-fixture-resolve-aix', version: '1.0.0', os: ['aix'] }), { registry });
  await publish(
    writePackage({
      name: 'rs-fixture-resolve-app',
      version: '1.0.0',
      dependencies: { 'rs-fixture-resolve-engdep': '^1.0.0', 'rs-fixture-dep': '1.1.0' },
      optionalDependencies: { 'rs-fixture-resolve-aix': '1.0.0' },
    }),
    { registry },
  );
}, SLOW);

function resolve(child: boolean, seeds?: string[], npmCache = tempDir('rs-resolve-cache-')) {
  return resolveTree({
    seeds,
    spec: 'rs-fixture-resolve-app@1.0.0',
    packageName: 'rs-fixture-resolve-app',
    nodePath: process.execPath,
    nodeVersion: process.versions.node,
    npmConfig: {},
    npmCache,
    registry: inject('registryUrl'),
    env: process.env,
    child,
  });
}

const shape = (tree: Awaited<ReturnType<typeof resolve>>) =>
  [tree.root, ...tree.deps].map(({ location, name, version, integrity, resolved, hasInstallScript }) => ({
    location,
    name,
    version,
    integrity,
    resolved,
    hasInstallScript,
  }));

describe('resolveTree', () => {
  it('resolves in this process when the configured Node has our major, in a child otherwise', () => {
    expect(resolvesInProcess(process.versions.node)).toBe(true);
    expect(resolvesInProcess(`${MAJOR + 1}.0.0`)).toBe(false);
    expect(resolvesInProcess(undefined)).toBe(false);
  });

  it(
    'gives the same tree in process as in the child, and the one npm install -g installs',
    async () => {
      const inProcess = await resolve(false);
      const inChild = await resolve(true);
      expect(inProcess.how?.inProcess).toBe(true);
      expect(inChild.how?.inProcess).toBe(false);
      expect(inProcess.node).toBe(`v${process.versions.node}`);
      expect(shape(inProcess)).toEqual(shape(inChild));
      const versions = Object.fromEntries(inProcess.deps.map((node) => [node.location, node.version]));
      // The engine-gated pick, and no package for another platform.
      expect(versions).toEqual({
        'node_modules/rs-fixture-resolve-engdep': '1.0.0',
        'node_modules/rs-fixture-dep': '1.1.0',
      });
      // npm's own install of the same spec, the judge.
      const prefix = tempDir('rs-resolve-npm-');
      await npm(['install', '-g', '--prefix', prefix, 'rs-fixture-resolve-app@1.0.0'], {
        registry: inject('registryUrl'),
        timeout: SLOW,
      });
      const app = join(prefix, 'lib/node_modules/rs-fixture-resolve-app');
      const npmVersions = Object.fromEntries(
        readdirSync(join(app, 'node_modules'))
          .filter((name) => !name.startsWith('.'))
          .map((name) => [
            `node_modules/${name}`,
            JSON.parse(readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8')).version,
          ]),
      );
      expect(versions).toEqual(npmVersions);
    },
    SLOW,
  );

  it(
    "requests the seeds' packuments at once and still builds the same tree from them",
    async () => {
      const plain = await resolve(false);
      // The previous release's names: the crawl reaches the first two, the third is one this tree no longer has.
      const seeded = await resolve(false, ['rs-fixture-dep', 'rs-fixture-resolve-engdep', 'rs-fixture-gateway']);
      expect(shape(seeded)).toEqual(shape(plain));
      // The seed only this run asked for is one request more than the crawl alone makes (seeds are fetched, not followed).
      expect(seeded.how!.prefetched).toBe(plain.how!.prefetched + 1);
      // A seed the registry does not have (404) is dropped; the child resolves from seeds as well.
      const seededChild = await resolve(true, ['rs-fixture-dep', 'rs-fixture-not-published']);
      expect(seededChild.how!.prefetched).toBe(plain.how!.prefetched + 1);
      expect(shape(seededChild)).toEqual(shape(plain));
    },
    SLOW,
  );

  it(
    "revalidates npm's cached packuments the short way: the same tree, npm's cache entries left as they were",
    async () => {
      const npmCache = tempDir('rs-resolve-cache-');
      const first = await resolve(false, ['rs-fixture-dep'], npmCache); // an empty cache: pacote's own way fills it
      const key = `make-fetch-happen:request-cache:${new URL('rs-fixture-dep', inject('registryUrl'))}`;
      const stored = await cacache.get.info(join(npmCache, '_cacache'), key);
      expect(stored?.integrity).toBeTruthy();
      const again = await resolve(false, ['rs-fixture-dep'], npmCache);
      expect(shape(again)).toEqual(shape(first));
      // make-fetch-happen's way records every 304 as a new index entry; the short way reads the stored one.
      expect(await cacache.get.info(join(npmCache, '_cacache'), key)).toEqual(stored);
    },
    SLOW,
  );
});
