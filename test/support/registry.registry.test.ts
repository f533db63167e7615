// Proves the harness: the seeded Verdaccio behaves like a registry to real npm, and the fixtures behave as documented.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { execa } from 'execa';
import { expect, inject, onTestFinished, test } from 'vitest';
import type { FixturePackage } from './fixtures.ts';
import { addDistTag, deprecate, npm, publish, startRegistry } from './registry.ts';

const registry = inject('registryUrl');
const fixtures = inject('fixtures');

function fixture(spec: string): FixturePackage {
  const found = fixtures.packages.find((p) => p.spec === spec);
  if (!found) throw new Error(`no fixture ${spec}`);
  return found;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rs-harness-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function npmJson(args: string[], cwd?: string): Promise<any> {
  const { stdout } = await npm([...args, '--json'], { registry, cwd });
  return JSON.parse(stdout);
}

/** Starts `node server.js` with PORT=0 and resolves with the URL it prints once listening. */
async function startGateway(cwd: string): Promise<string> {
  const child = execa('node', ['server.js'], { cwd, env: { PORT: '0' }, timeout: 30_000 });
  onTestFinished(async () => {
    child.kill();
    await child.catch(() => {});
  });
  return new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      const url = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
      if (url) resolve(url);
    });
    child.then(
      (r) => reject(new Error(`gateway exited before listening: ${r.stderr}`)),
      (err: Error) => reject(err),
    );
  });
}

test('registry serves the seeded dist-tags, and nothing it was not given', async () => {
  const tags = { latest: '1.2.0', beta: '2.0.0-beta.1', matrix: '3.6.0', schema: '4.1.0' };
  expect(fixtures.distTags['rs-fixture-gateway']).toEqual(tags);
  expect(await npmJson(['view', 'rs-fixture-gateway', 'dist-tags'])).toEqual(tags);
  // No uplinks: an unknown name is a 404 here, not a fetch from registry.npmjs.org.
  await expect(npm(['view', 'rs-fixture-not-published'], { registry })).rejects.toMatchObject({
    stderr: expect.stringContaining('E404'),
  });
});

test('npm pack from the registry returns the very tarball that was published', async () => {
  const dir = await tempDir();
  const [packed] = await npmJson(['pack', 'rs-fixture-gateway@1.1.0', '--pack-destination', dir]);
  expect(packed.integrity).toBe(fixture('rs-fixture-gateway@1.1.0').integrity);
  expect(existsSync(join(dir, packed.filename))).toBe(true);
});

test('npm install runs the lifecycle scripts, and the installed gateway serves /health and /chunk', async () => {
  const prefix = await tempDir();
  await npm(['install', '--prefix', prefix, 'rs-fixture-gateway@1.0.0', '--foreground-scripts'], { registry });
  const pkgDir = join(prefix, 'node_modules', 'rs-fixture-gateway');
  const depDir = join(prefix, 'node_modules', 'rs-fixture-dep');

  expect(existsSync(join(pkgDir, '.lifecycle-pending'))).toBe(false);
  const scriptNode = (await readFile(join(pkgDir, 'postinstall-ran.txt'), 'utf8')).trim();
  expect(isAbsolute(scriptNode) && existsSync(scriptNode)).toBe(true);
  expect(JSON.parse(await readFile(join(depDir, 'package.json'), 'utf8')).version).toBe('1.0.0');
  expect(existsSync(join(depDir, 'built.txt'))).toBe(true);

  const url = await startGateway(pkgDir);
  const health = await fetch(new URL('/health', url));
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: 'ok', version: '1.0.0' });
  const chunk = await fetch(new URL('/chunk', url));
  expect(await chunk.json()).toEqual({
    chunk: fixture('rs-fixture-gateway@1.0.0').chunk,
    output: 'hello, rs-fixture-gateway@1.0.0 (rs-fixture-dep@1.0.0)',
  });
});

test('the gateway refuses to start while .lifecycle-pending exists, and --version works once it is gone', async () => {
  const prefix = await tempDir();
  // --ignore-scripts leaves the marker from the tarball in place.
  await npm(['install', '--prefix', prefix, 'rs-fixture-gateway@1.2.0', '--ignore-scripts'], { registry });
  const pkgDir = join(prefix, 'node_modules', 'rs-fixture-gateway');

  const refused = await execa('node', ['server.js', '--version'], { cwd: pkgDir, reject: false, timeout: 10_000 });
  expect(refused).toMatchObject({ exitCode: 1, stdout: '', stderr: expect.stringContaining('.lifecycle-pending') });

  await rm(join(pkgDir, '.lifecycle-pending'));
  const ok = await execa('node', ['server.js', '--version'], { cwd: pkgDir, timeout: 10_000 });
  expect(ok).toMatchObject({ exitCode: 0, stdout: '1.2.0' });
});

test('publish, addDistTag and deprecate work against the registry', async () => {
  const dir = await tempDir();
  const name = `rs-harness-scratch-${process.pid}`;
  await mkdir(join(dir, 'pkg'));
  await writeFile(join(dir, 'pkg', 'package.json'), JSON.stringify({ name, version: '1.0.0', license: 'MIT' }));

  await publish(join(dir, 'pkg'), { registry });
  await addDistTag(`${name}@1.0.0`, 'stable', { registry });
  await deprecate(`${name}@1.0.0`, 'use something else', { registry });

  const view = await npmJson(['view', `${name}@1.0.0`]);
  expect(view['dist-tags']).toEqual({ latest: '1.0.0', stable: '1.0.0' });
  expect(view.deprecated).toBe('use something else');
});

test('publishing a tarball in-process leaves the registry the same document as `npm publish` of it', async () => {
  // The same tarballs, from the same paths, published in-process into one fresh registry and through
  // `npm publish` into another; the packuments are compared. (The shared registry's storage was prepared
  // from copies of these tarballs elsewhere, so its documents name another path.)
  const ours = await startRegistry({ storageDir: await tempDir() });
  onTestFinished(() => ours.close());
  const other = await startRegistry({ storageDir: await tempDir() });
  onTestFinished(() => other.close());
  const published = [
    fixture('rs-fixture-dep@1.0.0'),
    fixture('rs-fixture-gateway@1.0.0'),
    fixture('rs-fixture-gateway@1.1.0'),
  ];
  for (const pkg of published) await publish(pkg.tarball, { registry: ours.url, tag: pkg.tag });
  for (const pkg of published) await npm(['publish', pkg.tarball, '--tag', pkg.tag], { registry: other.url });
  // What differs by publisher or by time: who and when, npm's and Node's versions, the registry's host.
  const comparable = (doc: any, versions: string[]) => {
    const out = { ...doc, versions: {} as Record<string, unknown> };
    for (const key of ['time', '_rev', 'dist-tags', '_attachments', '_distfiles', '_uplinks', 'users']) delete out[key];
    for (const v of versions) {
      const { _npmVersion, _nodeVersion, _npmUser, maintainers, contributors, ...rest } = doc.versions[v];
      out.versions[v] = { ...rest, dist: { ...rest.dist, tarball: new URL(rest.dist.tarball).pathname } };
    }
    return out;
  };
  for (const name of ['rs-fixture-dep', 'rs-fixture-gateway']) {
    const versions = published.filter((p) => p.name === name).map((p) => p.version);
    const inProcess = await (await fetch(`${ours.url}${name}`)).json();
    const npms = await (await fetch(`${other.url}${name}`)).json();
    expect(Object.keys(inProcess.versions)).toEqual(expect.arrayContaining(versions));
    expect(comparable(inProcess, versions)).toEqual(comparable(npms, versions));
  }
});
