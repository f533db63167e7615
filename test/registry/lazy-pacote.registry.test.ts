// sigstore (provenance attestations) is loaded only when something of it is used: pacote requires it at
// load, and it was most of the CLI's start-up before the first progress line. A fresh Node loads the
// built registry client, resolves a package from the seeded Verdaccio (pacote at work, no provenance
// asked), and reports which sigstore modules are loaded; then uses the module pacote gets, which must be
// the real sigstore, loaded on that first use.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { tempDir } from '../support/cli.ts';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '../../dist');

const SCRIPT = `
import { createRequire } from 'node:module';
const [dist, registry, cache] = process.argv.slice(1);
const require = createRequire(dist + '/');
const loaded = () => Object.keys(require.cache).filter((id) => /[\\\\/]@?sigstore[\\\\/]/.test(id) && !/[\\\\/]sigstore[\\\\/]dist[\\\\/]index\\.js$/.test(id)).length;
await import(dist + '/registry/fetch.js');
const { default: pacote } = await import(require.resolve('pacote'));
const manifest = await pacote.manifest('rs-fixture-dep@1.1.0', { registry, cache });
const before = loaded();
const sigstore = createRequire(require.resolve('pacote'))('sigstore');
const api = [typeof sigstore.verify, typeof sigstore.createVerifier];
console.log(JSON.stringify({ version: manifest.version, before, api, after: loaded() }));
`;

describe('sigstore is loaded on first use', () => {
  it('is not loaded by the registry client and pacote, and is the real module when used', () => {
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', SCRIPT, DIST, inject('registryUrl'), tempDir('rs-sigstore-cache-')],
      { encoding: 'utf8', timeout: 60_000 },
    );
    const report = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(report.version).toBe('1.1.0');
    expect(report.before).toBe(0);
    expect(report.api).toEqual(['function', 'function']);
    expect(report.after).toBeGreaterThan(0);
  });
});

// The same for what else pacote and arborist load but a registry staging never uses: pacote's git, tar,
// npm-packlist and run-script, arborist's query language. A fresh Node resolves a tree with arborist from the
// seeded Verdaccio (and a manifest with pacote) and reports which of them are loaded; then uses each, which
// must be the real module, loaded then (arborist's query answers a real query).
const DEFERRED_SCRIPT = `
import { createRequire } from 'node:module';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const [dist, registry, cache] = process.argv.slice(1);
const { deferredByPacote } = await import(dist + '/registry/lazy-pacote.js');
const { querySelectorAllFile } = await import(dist + '/stage/resolve/lazy-arborist.js');
const { isLoaded } = await import(dist + '/platform/lazy-require.js');
const { resolveIdeal } = await import(dist + '/stage/resolve/resolve-ideal.js');
const require = createRequire(dist + '/');
const { default: pacote } = await import(require.resolve('pacote'));
const tree = await resolveIdeal({ spec: 'rs-fixture-gateway@1.1.0', flat: { registry, cache } });
const manifest = await pacote.manifest('rs-fixture-dep@1.1.0', { registry, cache });
const ids = { ...deferredByPacote, querySelectorAll: querySelectorAllFile };
delete ids.sigstore;
const state = () => Object.fromEntries(Object.entries(ids).map(([name, id]) => [name, isLoaded(id)]));
const files = (re) => Object.keys(require.cache).filter((id) => re.test(id)).length;
const before = { ...state(), postcss: files(/postcss-selector-parser/), gitFiles: files(/@npmcli[\\\\/]git[\\\\/]lib[\\\\/](?!index)/) };
const fromPacote = createRequire(require.resolve('pacote'));
const used = {
  git: typeof fromPacote('@npmcli/git').revs,
  tar: typeof fromPacote('tar').x,
  packlist: typeof fromPacote('npm-packlist').Walker,
  runScript: typeof fromPacote('@npmcli/run-script').isServerPackage,
};
const Arborist = createRequire(require.resolve('pacote'))(require.resolve('@npmcli/arborist'));
const actual = await new Arborist({ path: mkdtempSync(join(tmpdir(), 'rs-lazy-arborist-')) }).loadActual();
const queried = (await actual.querySelectorAll(':root')).length;
console.log(JSON.stringify({ deps: tree.nodes.length, version: manifest.version, before, used, queried, after: state() }));
`;

describe("pacote's and arborist's unused parts are loaded on first use", () => {
  it('none of them is loaded by a resolution, and each is the real module when used', () => {
    const tmp = tempDir('rs-lazy-pacote-');
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', DEFERRED_SCRIPT, DIST, inject('registryUrl'), join(tmp, 'cache')],
      { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TMPDIR: tmp } },
    );
    const report = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(report.version).toBe('1.1.0');
    expect(report.deps).toBeGreaterThan(1);
    expect(report.before).toEqual({
      '@npmcli/git': false,
      tar: false,
      'npm-packlist': false,
      '@npmcli/run-script': false,
      querySelectorAll: false,
      postcss: 0,
      gitFiles: 0,
    });
    expect(report.used).toEqual({ git: 'function', tar: 'function', packlist: 'function', runScript: 'function' });
    expect(report.queried).toBe(1);
    expect(report.after).toEqual({
      '@npmcli/git': true,
      tar: true,
      'npm-packlist': true,
      '@npmcli/run-script': true,
      querySelectorAll: true,
    });
  });
});
