// Registry signatures (issue 10 item 11): `--verify-signatures auto|always|never`, checked against a registry that
// publishes a key and signs with it, through the built CLI (exit code and --json together).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { cli, rs, tempDir } from '../support/cli.ts';
import { linkOf, readState, releaseDirs, stagingEntries } from '../support/root.ts';
import { type SignedPackage, startSigningRegistry } from '../support/signing-registry.ts';

const fixtures = inject('fixtures');
/** Up to four installs through the CLI per test; under a loaded suite one install has taken 30 s. */
const SLOW = 180_000;
const tarballOf = (spec: string) => fixtures.packages.find((p) => p.spec === spec)!.tarball;

/** The gateway 1.0.0 (dep rs-fixture-dep 1.0.0 exactly) and 1.1.0 (^1.0.0), and that dep: all signed unless told otherwise. */
async function signingRegistry(overrides: Record<string, Partial<SignedPackage>> = {}) {
  const specs = ['rs-fixture-dep@1.0.0', 'rs-fixture-gateway@1.0.0', 'rs-fixture-gateway@1.1.0'];
  const registry = await startSigningRegistry(specs.map((spec) => ({ tarball: tarballOf(spec), ...overrides[spec] })));
  onTestFinished(() => registry.close());
  return registry;
}

async function rootOn(registry: string, extra: string[] = []): Promise<string> {
  const root = join(tempDir('rs-sig-'), 'root');
  const r = await rs(root, ['init', '--package', 'rs-fixture-gateway', '--registry', registry, ...extra]);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  return root;
}

const marker = (root: string, version: string) =>
  JSON.parse(readFileSync(join(root, 'releases', version, '.release-switcher.json'), 'utf8'));

/** Refused with SIGNATURE_INVALID (exit 1, a hint naming the override): nothing in releases/ or staging, current as it was. */
async function expectRefused(root: string, args: string[], current: string | null): Promise<any> {
  const before = releaseDirs(root);
  const r = await rs(root, args);
  expect(r.json?.ok, r.stdout + r.stderr).toBe(false);
  expect(r.json.error.code).toBe('SIGNATURE_INVALID');
  expect(r.json.error.hint).toMatch(/--verify-signatures never/);
  expect(r.exitCode).toBe(1);
  expect(releaseDirs(root)).toEqual(before);
  expect(stagingEntries(root)).toEqual([]);
  expect(linkOf(root, 'current')).toBe(current);
  return r.json.error;
}

describe('a registry that publishes a key and signs with it', () => {
  it(
    'a signed version installs and is recorded verified (package and dependencies) with its provenance, in install, list and the marker',
    async () => {
      const registry = await signingRegistry({ 'rs-fixture-gateway@1.0.0': { provenance: true } });
      const root = await rootOn(registry.url);
      const r = await rs(root, ['install', 'rs-fixture-gateway@1.0.0']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.json.result).toMatchObject({ version: '1.0.0', signatures: 'verified', provenance: true });
      expect(registry.requests).toContain('GET /-/npm/v1/keys');
      expect(marker(root, '1.0.0').signatures).toEqual({
        status: 'verified',
        provenance: true,
        registry: registry.url,
        keyids: [registry.keyid],
        dependencies: 'verified',
      });
      const list = await rs(root, ['list']);
      expect(list.json.result.releases[0]).toMatchObject({
        version: '1.0.0',
        signatures: 'verified',
        provenance: true,
      });
    },
    SLOW,
  );

  it(
    'a bad signature → SIGNATURE_INVALID (exit 1) for install and update; current, releases/ and staging untouched',
    async () => {
      const registry = await signingRegistry();
      const root = await rootOn(registry.url);
      expect((await rs(root, ['install', 'rs-fixture-gateway@1.0.0'])).exitCode).toBe(0);
      expect((await rs(root, ['switch', '1.0.0'])).exitCode).toBe(0);
      registry.modes.set('rs-fixture-gateway@1.1.0', 'bad');
      const error = await expectRefused(root, ['install', 'rs-fixture-gateway@1.1.0'], 'releases/1.0.0');
      expect(error.message).toMatch(/invalid registry signature/);
      await expectRefused(root, ['update', 'rs-fixture-gateway@1.1.0'], 'releases/1.0.0');
      expect(readState(root).releases['1.1.0']).toBeUndefined();
    },
    SLOW,
  );

  it(
    'a signature by a key the registry does not publish, or none where it publishes keys → SIGNATURE_INVALID (auto, as npm audit signatures; always)',
    async () => {
      const registry = await signingRegistry({ 'rs-fixture-gateway@1.0.0': { signature: 'unknown-key' } });
      const root = await rootOn(registry.url);
      expect((await expectRefused(root, ['install', 'rs-fixture-gateway@1.0.0'], null)).message).toMatch(
        /no corresponding public key/,
      );
      registry.modes.set('rs-fixture-gateway@1.0.0', 'none');
      expect((await expectRefused(root, ['install', 'rs-fixture-gateway@1.0.0'], null)).message).toMatch(
        /no registry signature/,
      );
      await expectRefused(root, ['install', 'rs-fixture-gateway@1.0.0', '--verify-signatures', 'always'], null);
    },
    SLOW,
  );

  it(
    'a dependency with a bad or no signature → SIGNATURE_INVALID, naming it',
    async () => {
      const registry = await signingRegistry({ 'rs-fixture-dep@1.0.0': { signature: 'bad' } });
      const root = await rootOn(registry.url);
      expect((await expectRefused(root, ['install', 'rs-fixture-gateway@1.0.0'], null)).message).toMatch(
        /rs-fixture-dep@1\.0\.0/,
      );
      registry.modes.set('rs-fixture-dep@1.0.0', 'none');
      expect((await expectRefused(root, ['install', 'rs-fixture-gateway@1.0.0'], null)).message).toMatch(
        /rs-fixture-dep@1\.0\.0/,
      );
    },
    SLOW,
  );

  it(
    '--verify-signatures never skips a bad signature and records skipped; init sets the default, a call overrides it',
    async () => {
      const registry = await signingRegistry({ 'rs-fixture-gateway@1.0.0': { signature: 'bad' } });
      const root = await rootOn(registry.url, ['--verify-signatures', 'always']);
      expect(JSON.parse(readFileSync(join(root, 'config.json'), 'utf8')).verifySignatures).toBe('always');
      await expectRefused(root, ['install', 'rs-fixture-gateway@1.0.0'], null);
      const asked = registry.requests.filter((r) => r === 'GET /-/npm/v1/keys').length;
      const r = await rs(root, ['install', 'rs-fixture-gateway@1.0.0', '--verify-signatures', 'never']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.json.result.signatures).toBe('skipped');
      expect(marker(root, '1.0.0').signatures).toMatchObject({ status: 'skipped', dependencies: 'skipped' });
      expect(
        registry.requests.filter((r) => r === 'GET /-/npm/v1/keys').length,
        'never does not even ask for keys',
      ).toBe(asked);
    },
    SLOW,
  );
});

describe('a registry without keys', () => {
  it(
    'auto installs (even a version whose signature nobody can check) and records unsigned; always refuses',
    async () => {
      const registry = await signingRegistry({ 'rs-fixture-gateway@1.0.0': { signature: 'bad' } });
      registry.keys = false;
      const root = await rootOn(registry.url);
      await expectRefused(root, ['install', 'rs-fixture-gateway@1.0.0', '--verify-signatures', 'always'], null);
      const r = await rs(root, ['install', 'rs-fixture-gateway@1.0.0']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.json.result.signatures).toBe('unsigned');
      expect(marker(root, '1.0.0').signatures).toMatchObject({
        status: 'unsigned',
        registry: registry.url,
        dependencies: 'unsigned',
      });
    },
    SLOW,
  );

  it(
    'a keys endpoint that fails (500) → FETCH_FAILED under auto: whether the registry has keys cannot be told',
    async () => {
      const registry = await signingRegistry();
      registry.keys = 'error';
      const root = await rootOn(registry.url);
      const r = await rs(root, ['install', 'rs-fixture-gateway@1.0.0', '--dry-run']);
      expect(r.json.error.code, r.stdout + r.stderr).toBe('FETCH_FAILED');
      expect(r.exitCode).toBe(1);
      registry.keys = true;
      const plan = await rs(root, ['install', 'rs-fixture-gateway@1.0.0', '--dry-run']);
      expect(plan.json.result).toMatchObject({ dryRun: true, version: '1.0.0', signatures: 'verified' });
      expect(releaseDirs(root)).toEqual([]);
    },
    SLOW,
  );

  it(
    'Verdaccio (no keys endpoint): auto installs and records unsigned; always → SIGNATURE_INVALID',
    async () => {
      const root = await rootOn(inject('registryUrl'));
      const r = await rs(root, ['install', 'rs-fixture-gateway@1.0.0']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.json.result.signatures).toBe('unsigned');
      await expectRefused(root, ['install', 'rs-fixture-gateway@1.1.0', '--verify-signatures', 'always'], null);
    },
    SLOW,
  );
});

describe('a tarball is not a registry version', () => {
  it(
    'auto installs it and records skipped; always refuses it before reading it',
    async () => {
      const root = await rootOn(inject('registryUrl'));
      const tarball = tarballOf('rs-fixture-gateway@1.0.0');
      await expectRefused(root, ['install', tarball, '--verify-signatures', 'always'], null);
      const r = await rs(root, ['install', tarball]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.json.result.signatures).toBe('skipped');
    },
    SLOW,
  );
});

describe('the setting', () => {
  it(
    'init and install refuse a value other than auto, always, never (USAGE, exit 2); a config.json with one is INVALID_CONFIG',
    async () => {
      const root = await rootOn(inject('registryUrl'));
      for (const args of [
        ['init', '--verify-signatures', 'sometimes'],
        ['install', 'rs-fixture-gateway@1.0.0', '--verify-signatures', 'yes'],
      ]) {
        const r = await rs(root, args);
        expect(r.exitCode).toBe(2);
        expect(r.json.error.code).toBe('USAGE');
      }
      const config = JSON.parse(readFileSync(join(root, 'config.json'), 'utf8'));
      expect(config.verifySignatures).toBe('auto');
      writeFileSync(join(root, 'config.json'), JSON.stringify({ ...config, verifySignatures: 'sometimes' }));
      const r = await cli(['--root', root, '--json', 'list']);
      expect(r.json.error.code).toBe('INVALID_CONFIG');
      expect(r.exitCode).toBe(1);
    },
    SLOW,
  );
});
