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
