// One install fetches each packument once (issue 9): the version lookup and signature check (registry/fetch.ts)
// and the dependency resolver (a child process) used to fetch the package's packument each, openclaw's 9.9 MB
// twice. Counted at a registry on node:http that logs every request, with and without published keys (the full
// document is fetched for the signature check; without keys the lookup used to ask for the abbreviated one).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { requestUpdate } from '../../dist/index.js';
import { cliEnv, rs, tempDir } from '../support/cli.ts';
import { startSigningRegistry } from '../support/signing-registry.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';

runThisFileAsRoot('it runs the library in this process (as root) on roots it made: root acts only on roots of its own');

const fixtures = inject('fixtures');
/** One or two installs through the CLI per test; under a loaded suite one install has taken 30 s. */
const SLOW = 180_000;
const tarballOf = (spec: string) => fixtures.packages.find((p) => p.spec === spec)!.tarball;

async function registryWithKeys(keys: boolean) {
  const specs = ['rs-fixture-dep@1.0.0', 'rs-fixture-gateway@1.0.0', 'rs-fixture-gateway@1.1.0'];
  const registry = await startSigningRegistry(specs.map((spec) => ({ tarball: tarballOf(spec) })));
  registry.keys = keys;
  onTestFinished(() => registry.close());
  return registry;
}

async function rootOn(registry: string): Promise<string> {
  const root = join(tempDir('rs-packument-'), 'root');
  const r = await rs(root, ['init', '--package', 'rs-fixture-gateway', '--registry', registry]);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  return root;
}

const count = (requests: string[], path: string) => requests.filter((r) => r === `GET ${path}`).length;

describe('one install fetches each packument once', () => {
  for (const keys of [true, false]) {
    it(
      `${keys ? 'a registry that publishes keys (verified)' : 'a registry without keys (unsigned)'}: the package's and each dependency's packument once per install, first install and upgrade alike`,
      async () => {
        const registry = await registryWithKeys(keys);
        const root = await rootOn(registry.url);
        for (const [spec, version] of [
          ['rs-fixture-gateway@1.0.0', '1.0.0'],
          ['rs-fixture-gateway@latest', '1.1.0'],
        ]) {
          registry.requests.length = 0;
          const r = await rs(root, ['install', spec!]);
          expect(r.exitCode, r.stdout + r.stderr).toBe(0);
          // What is verified is unchanged: the package, and the dependencies as resolved from the handed-over document.
          expect(r.json.result).toMatchObject({ version, signatures: keys ? 'verified' : 'unsigned' });
          expect(count(registry.requests, '/rs-fixture-gateway'), registry.requests.join('\n')).toBe(1);
          expect(count(registry.requests, '/rs-fixture-dep'), registry.requests.join('\n')).toBe(1);
          expect(count(registry.requests, '/-/npm/v1/keys')).toBe(1);
        }
        // The release records the dependencies' verdict as before (resolved and verified by the child from that document).
        const marker = JSON.parse(readFileSync(join(root, 'releases', '1.1.0', '.release-switcher.json'), 'utf8'));
        expect(marker.signatures).toMatchObject({
          status: keys ? 'verified' : 'unsigned',
          dependencies: keys ? 'verified' : 'unsigned',
        });
      },
      SLOW,
    );
  }

  // The gateway's update.run decides on the version first; without a supervisor it then installs here, from that
  // same answer (it used to resolve the spec a second time: two fetches, and two answers if the tag moved between).
  it(
    "update.run with supervisor none: the package's packument once, the release it resolved is the one installed and switched to",
    async () => {
      const registry = await registryWithKeys(true);
      const root = await rootOn(registry.url);
      const env = cliEnv();
      const tx = await requestUpdate({ root, env, npmCache: env.npm_config_cache! });
      expect(tx).toMatchObject({ kind: 'update', status: 'switched', to: '1.1.0' });
      expect(count(registry.requests, '/rs-fixture-gateway'), registry.requests.join('\n')).toBe(1);
      expect(count(registry.requests, '/rs-fixture-dep'), registry.requests.join('\n')).toBe(1);
    },
    SLOW,
  );
});
