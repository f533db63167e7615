// Versions become directory names and records only when exact: a tiny lying registry on node:http serves packuments
// whose versions are padded or disagree with their keys, and an npm -g style package.json says `../../escaped`.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { isValidVersion } from '../../src/store/layout.ts';
import { cli, rs, tempDir } from '../support/cli.ts';
import { releaseDirs, stagingEntries } from '../support/root.ts';

const gateway = inject('fixtures').packages.find((p) => p.spec === 'rs-fixture-gateway@1.0.0')!;
const NAME = 'rs-fixture-gateway';

/** Serves `versions` (key → the version its manifest claims) and `dist-tags`, every tarball the 1.0.0 fixture. */
async function lyingRegistry(versions: Record<string, string>, tags: Record<string, string>): Promise<string> {
  const tarball = readFileSync(gateway.tarball);
  let base = '';
  const server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? '/');
    if (path === `/${NAME}`) {
      const entries = Object.entries(versions).map(([key, claimed]) => [
        key,
        {
          name: NAME,
          version: claimed,
          dist: { tarball: `${base}${NAME}/-/${NAME}-1.0.0.tgz`, integrity: gateway.integrity, shasum: gateway.shasum },
        },
      ]);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ name: NAME, 'dist-tags': tags, versions: Object.fromEntries(entries) }));
    } else if (path.endsWith('.tgz')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tarball);
    } else res.writeHead(404).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return base;
}

async function refused(registry: string, spec: string): Promise<void> {
  const root = join(tempDir('rs-root-'), 'root');
  expect((await cli(['--root', root, '--json', 'init', '--package', NAME, '--registry', registry])).exitCode).toBe(0);
  const r = await rs(root, ['install', spec]);
  expect(r.exitCode, r.stdout + r.stderr).toBe(1);
  expect(r.json.error.code).toBe('INVALID_VERSION');
  expect(releaseDirs(root)).toEqual([]);
  expect(stagingEntries(root)).toEqual([]);
}

describe('versions from a registry', () => {
  it('a version with a trailing space (latest → "2.0.2 ") is refused, nothing on disk', async () => {
    await refused(await lyingRegistry({ '2.0.2 ': '2.0.2 ' }, { latest: '2.0.2 ' }), NAME);
  });

  it('versions["2.0.0"] that says 2.0.1 is refused for @2.0.0, for ^2.0.0 and for its dist-tag', async () => {
    const registry = await lyingRegistry({ '2.0.0': '2.0.1' }, { latest: '2.0.0' });
    for (const spec of [`${NAME}@2.0.0`, `${NAME}@^2.0.0`, NAME]) await refused(registry, spec);
  });

  it('a "v"-prefixed or path-like version is refused', async () => {
    await refused(await lyingRegistry({ '2.0.3': 'v2.0.3' }, { latest: '2.0.3' }), `${NAME}@2.0.3`);
  });
});

describe('versions from package.json', () => {
  it('init --adopt of a package whose version is ../../escaped writes nothing, inside the root or out', async () => {
    const base = tempDir('rs-adopt-');
    const pkg = join(base, 'installed');
    mkdirSync(pkg);
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: NAME, version: '../../escaped' }));
    const root = join(base, 'a', 'b', 'root');
    const r = await cli(['--root', root, '--json', 'init', '--registry', inject('registryUrl'), '--adopt', pkg]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.json.error.code).toBe('INVALID_VERSION');
    expect(readdirSync(base).sort()).toEqual(['a', 'installed']);
    expect(existsSync(join(base, 'a', 'escaped'))).toBe(false);
    expect(releaseDirs(root)).toEqual([]);
    expect(stagingEntries(root)).toEqual([]);
  });

  // semver.valid drops build metadata (1.0.0+build.5 → 1.0.0), as npm does when it publishes: not exact, refused.
  it('the rule: exactly what semver calls valid, and a safe directory name', () => {
    for (const ok of ['1.0.0', '2.0.0-beta.1', '10.20.30-rc.1']) expect(isValidVersion(ok), ok).toBe(true);
    for (const bad of [
      '2.0.2 ',
      ' 2.0.2',
      'v1.0.0',
      '=1.0.0',
      '../../escaped',
      '1.0',
      '',
      '1.0.0/..',
      '1.0.0+build.5',
      42,
    ])
      expect(isValidVersion(bad), String(bad)).toBe(false);
  });
});

describe('directories under releases/ that are not versions', () => {
  it('are listed as incomplete, never turned into a release path', async () => {
    const { layoutOf } = await import('../../src/store/layout.ts');
    const { listReleaseDirs, readMarker } = await import('../../src/store/release.ts');
    const layout = layoutOf(join(tempDir(), 'root'));
    for (const name of ['2.0.2 ', 'v1.0.0', 'notes']) mkdirSync(join(layout.releases, name), { recursive: true });
    expect(await listReleaseDirs(layout)).toEqual({ complete: [], incomplete: ['2.0.2 ', 'notes', 'v1.0.0'] });
    expect(await readMarker(layout, '../../escaped')).toBeUndefined();
    expect(() => layout.release('../../escaped')).toThrow(expect.objectContaining({ code: 'INVALID_VERSION' }));
  });
});
