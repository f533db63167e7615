// A resolved tree kept in npm's cache (tree-cache.ts) is given again only while every packument it was
// built from is unchanged, as the registry says when asked conditionally; then it is the tree arborist
// builds afresh and the one npm install -g installs. A new version in range, another Node or other npm
// settings: resolved afresh. Against the seeded Verdaccio (ETags, no Cache-Control).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { flatNpmOptions } from '../../../dist/stage/resolve/resolve-tree.js';
import { rememberTree, startTreeAhead } from '../../../dist/stage/resolve/tree-ahead.js';
import { allUnchanged, allUnchangedBeside, answeredOnThread } from '../../../dist/stage/resolve/revalidate.js';
import { readKept, resolveTreeKept, treeKey } from '../../../dist/stage/resolve/tree-cache.js';
import { tempDir } from '../../support/cli.ts';
import { npm, publish } from '../../support/registry.ts';
import { packageDir } from '../../support/npm-packages.ts';

const SLOW = 120_000;
const APP = 'rs-fixture-tcache-app';
const DEP = 'rs-fixture-tcache-dep';

const writePackage = (pkg: Record<string, unknown>) => packageDir(pkg, 'rs-tcache-src-');

beforeAll(async () => {
  const registry = inject('registryUrl');
  await publish(writePackage({ name: DEP, version: '1.0.0' }), { registry });
  await publish(
    writePackage({ name: APP, version: '1.0.0', dependencies: { [DEP]: '^1.0.0', 'rs-fixture-dep': '1.1.0' } }),
    { registry },
  );
}, SLOW);

function resolve(
  npmCache: string,
  more: {
    nodeVersion?: string;
    npmConfig?: Record<string, string>;
    integrity?: string;
    ahead?: ReturnType<typeof startTreeAhead>;
  } = {},
) {
  const nodeVersion = more.nodeVersion ?? process.versions.node;
  const npmConfig = more.npmConfig ?? {};
  const registry = inject('registryUrl');
  return resolveTreeKept({
    key: treeKey({
      name: APP,
      version: '1.0.0',
      integrity: more.integrity ?? 'sha512-the-tarball',
      from: 'registry',
      nodeVersion,
      npmConfig,
      registry,
    }),
    ahead: more.ahead,
    spec: `${APP}@1.0.0`,
    packageName: APP,
    nodePath: process.execPath,
    nodeVersion,
    npmConfig,
    npmCache,
    registry,
    env: process.env,
    // Another major than ours resolves in a child on the same Node here: the tree is the same, only the key differs.
    child: nodeVersion !== process.versions.node,
  });
}

/** The key `resolve` keeps the app's tree under, with our Node and no npm settings. */
function appKey(integrity: string): string {
  return treeKey({
    name: APP,
    version: '1.0.0',
    integrity,
    from: 'registry',
    nodeVersion: process.versions.node,
    npmConfig: {},
    registry: inject('registryUrl'),
  })!;
}

const versions = (tree: Awaited<ReturnType<typeof resolve>>) =>
  Object.fromEntries(tree.deps.map((node) => [node.location, node.version]));
const shape = (tree: Awaited<ReturnType<typeof resolve>>) =>
  [tree.root, ...tree.deps].map(({ location, name, version, integrity, resolved }) => ({
    location,
    name,
    version,
    integrity,
    resolved,
  }));

/** What npm install -g of the app installs: location → version. */
async function npmVersions(): Promise<Record<string, string>> {
  const prefix = tempDir('rs-tcache-npm-');
  await npm(['install', '-g', '--prefix', prefix, '--prefer-online', `${APP}@1.0.0`], {
    registry: inject('registryUrl'),
    timeout: SLOW,
    cache: join(tempDir('rs-tcache-npmcache-'), 'cache'),
  });
  const app = join(prefix, 'lib/node_modules', APP);
  return Object.fromEntries(
    readdirSync(join(app, 'node_modules'))
      .filter((name) => !name.startsWith('.'))
      .map((name) => [
        `node_modules/${name}`,
        JSON.parse(readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8')).version,
      ]),
  );
}

describe('a kept resolved tree', () => {
  it(
    'is given again while its packuments are unchanged, resolved afresh once a dependency has a new version in range',
    async () => {
      const npmCache = tempDir('rs-tcache-cache-');
      const first = await resolve(npmCache);
      expect(first.how).toMatchObject({ inProcess: true });
      // The documents arborist read: the app's and its two dependencies', not the crawl's guesses.
      expect(first.packuments?.length).toBe(3);
      const again = await resolve(npmCache);
      expect(again.how).toMatchObject({ kept: true, revalidated: 3 });
      expect(shape(again)).toEqual(shape(first));
      expect(versions(again)).toEqual(await npmVersions());

      await publish(writePackage({ name: DEP, version: '1.1.0' }), { registry: inject('registryUrl') });
      const after = await resolve(npmCache);
      expect(after.how).toMatchObject({ inProcess: true });
      expect(versions(after)[`node_modules/${DEP}`]).toBe('1.1.0');
      expect(versions(after)).toEqual(await npmVersions());
      // And that tree is kept in turn.
      expect((await resolve(npmCache)).how).toMatchObject({ kept: true });
    },
    SLOW,
  );

  it(
    'is not given for another Node version or other npm settings that change resolution; credentials do not matter',
    async () => {
      const npmCache = tempDir('rs-tcache-cache-');
      await resolve(npmCache);
      const otherNode = `${Number(process.versions.node.split('.')[0]) + 1}.0.0`;
      expect((await resolve(npmCache, { nodeVersion: otherNode })).how).toMatchObject({ inProcess: false });
      expect((await resolve(npmCache, { npmConfig: { 'legacy-peer-deps': 'true' } })).how).toMatchObject({
        inProcess: true,
      });
      const token = { [`${inject('registryUrl').replace(/^https?:/, '')}:_authToken`]: 'secret' };
      expect((await resolve(npmCache, { npmConfig: token })).how).toMatchObject({ kept: true });
    },
    SLOW,
  );

  it(
    'is revalidated ahead, while the package is fetched, under the key last used for the spec; a wrong guess is dropped',
    async () => {
      const npmCache = tempDir('rs-tcache-cache-');
      const registry = inject('registryUrl');
      const ahead = () =>
        startTreeAhead({
          spec: `${APP}@1.0.0`,
          where: npmCache,
          packageName: APP,
          flat: flatNpmOptions({}, npmCache, registry),
          npmConfig: {},
          registry,
          nodePath: process.execPath,
        });
      // What a staging does: guess, resolve, remember the key used.
      const staging = async (integrity: string) => {
        const guess = ahead();
        expect(guess).toBeDefined();
        const tree = await resolve(npmCache, { integrity, ahead: guess });
        await rememberTree(guess!, appKey(integrity));
        return tree;
      };
      // Nothing remembered yet: no guess, resolved.
      expect(await ahead()!.tree).toBeUndefined();
      const first = await staging('sha512-build-a');
      expect(first.how).toMatchObject({ inProcess: true });
      // The guess is the tree kept: given, its packuments asked for ahead (the app's own checked after).
      const guessed = await ahead()!.tree;
      expect(guessed?.own.map((v) => v.url)).toEqual([`${registry.replace(/\/$/, '')}/${APP}`]);
      expect(guessed?.kept.validators).toHaveLength(3);
      const again = await staging('sha512-build-a');
      expect(again.how).toMatchObject({ kept: true, revalidated: 3, ahead: true });
      expect(shape(again)).toEqual(shape(first));
      // Another build under the same spec: the guess (build a's tree) is not given; its own tree is resolved.
      const other = await staging('sha512-build-b');
      expect(other.how).toMatchObject({ inProcess: true });
      expect((await staging('sha512-build-b')).how).toMatchObject({ kept: true, ahead: true });
      // A dependency with a new version in range: the guess does not hold, resolved afresh.
      await publish(writePackage({ name: DEP, version: '1.2.0' }), { registry });
      const after = await staging('sha512-build-b');
      expect(after.how).toMatchObject({ inProcess: true });
      expect(versions(after)[`node_modules/${DEP}`]).toBe('1.2.0');
    },
    SLOW,
  );

  it(
    'is revalidated on a thread of its own when large: the same answers as on this one, a changed document caught, an abort heeded',
    async () => {
      const npmCache = tempDir('rs-tcache-cache-');
      await resolve(npmCache);
      const registry = inject('registryUrl');
      const flat = flatNpmOptions({}, npmCache, registry);
      const cache = flat.cache as string;
      const kept = await readKept(cache, appKey('sha512-the-tarball'));
      expect(kept?.validators).toHaveLength(3);
      // 180 documents to ask for (the three, again and again): past the thread's threshold.
      const many = Array.from({ length: 60 }, () => kept!.validators).flat();
      const how = { cache, flat };
      const threads = answeredOnThread();
      expect(await allUnchangedBeside(many, how)).toBe(true);
      expect(answeredOnThread()).toBe(threads + 1);
      expect(await allUnchanged(many, how)).toBe(true);
      // Few documents stay on this thread.
      expect(await allUnchangedBeside(kept!.validators, how)).toBe(true);
      expect(answeredOnThread()).toBe(threads + 1);
      // One document that is not the one the tree was built from (another ETag, so the registry sends it whole, and
      // other bytes): unchanged no more, on either thread.
      const changed = [...many];
      changed[97] = {
        ...changed[97]!,
        etag: '"another"',
        integrity: `sha512-${Buffer.alloc(64, 1).toString('base64')}`,
      };
      expect(await allUnchangedBeside(changed, how)).toBe(false);
      expect(answeredOnThread()).toBe(threads + 2);
      expect(await allUnchanged(changed, how)).toBe(false);
      // Aborted while it asks: no answer of unchanged.
      const abort = new AbortController();
      const asking = allUnchangedBeside(many, { ...how, signal: abort.signal });
      abort.abort();
      expect(await asking).toBe(false);
    },
    SLOW,
  );

  it('is keyed by the tarball, not the spec: no integrity, nothing kept', () => {
    const base = {
      name: APP,
      version: '1.0.0',
      from: 'tarball' as const,
      nodeVersion: '20.1.0',
      npmConfig: {},
      registry: null,
    };
    expect(treeKey({ ...base, integrity: null })).toBeUndefined();
    expect(treeKey({ ...base, integrity: 'sha512-a' })).not.toBe(treeKey({ ...base, integrity: 'sha512-b' }));
    expect(treeKey({ ...base, integrity: 'sha512-a' })).not.toBe(
      treeKey({ ...base, integrity: 'sha512-a', from: 'registry' }),
    );
    expect(treeKey({ ...base, integrity: 'sha512-a', npmConfig: { omit: 'optional' } })).not.toBe(
      treeKey({ ...base, integrity: 'sha512-a' }),
    );
    expect(treeKey({ ...base, integrity: 'sha512-a', npmConfig: { 'fetch-timeout': '1000', cache: '/x' } })).toBe(
      treeKey({ ...base, integrity: 'sha512-a' }),
    );
  });
});
