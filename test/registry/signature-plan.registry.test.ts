// The decisions of src/registry/signatures.ts, against a signing registry on node:http (no CLI, no staging): which
// keys pacote gets under which name, what each policy makes of a manifest, and which dependencies count as unsigned.
import pacote from 'pacote';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import {
  KeyCache,
  dependencyPlan,
  judgeSignatures,
  keysOptionName,
  planSignatures,
  unsignedDependencies,
} from '../../src/registry/signatures.ts';
import { tempDir } from '../support/cli.ts';
import { startSigningRegistry } from '../support/signing-registry.ts';

const tarball = inject('fixtures').packages.find((p) => p.spec === 'rs-fixture-dep@1.0.0')!.tarball;

async function signing() {
  const registry = await startSigningRegistry([{ tarball }]);
  onTestFinished(() => registry.close());
  return registry;
}

const optsFor = (registry: string, extra: Record<string, unknown> = {}) => ({
  registry,
  cache: `${tempDir('rs-sigplan-')}/_cacache`,
  ...extra,
});

describe('signature plan', () => {
  it("names the keys as pacote looks them up (//host/path:_keys, the registry's own trailing slash)", () => {
    expect(keysOptionName('https://registry.npmjs.org/')).toBe('//registry.npmjs.org/:_keys');
    expect(keysOptionName('http://127.0.0.1:4873')).toBe('//127.0.0.1:4873/:_keys');
    expect(keysOptionName('https://npm.example.com/api/npm/')).toBe('//npm.example.com/api/npm/:_keys');
  });

  it('a signed manifest verifies through pacote with the fetched keys, once per call; a bad one throws EINTEGRITYSIGNATURE', async () => {
    const registry = await signing();
    const opts = optsFor(registry.url);
    const cache = new KeyCache(opts);
    const plan = (await planSignatures('rs-fixture-dep@1.0.0', 'auto', opts, cache))!;
    expect(plan.keys?.map((k) => k.keyid)).toEqual([registry.keyid]);
    const manifest = await pacote.manifest('rs-fixture-dep@1.0.0', { ...opts, ...plan.pacote });
    expect(judgeSignatures('rs-fixture-dep@1.0.0', plan, manifest)).toEqual({
      status: 'verified',
      provenance: false,
      registry: registry.url,
      keyids: [registry.keyid],
    });
    await planSignatures('rs-fixture-dep@1.0.0', 'always', opts, cache);
    expect(registry.requests.filter((r) => r === 'GET /-/npm/v1/keys')).toHaveLength(1);
    registry.modes.set('rs-fixture-dep@1.0.0', 'bad');
    await expect(
      pacote.manifest('rs-fixture-dep@1.0.0', { ...opts, ...plan.pacote, preferOnline: true }),
    ).rejects.toMatchObject({ code: 'EINTEGRITYSIGNATURE' });
  });

  it('never plans nothing and asks for no keys', async () => {
    const registry = await signing();
    const opts = optsFor(registry.url);
    expect(await planSignatures('rs-fixture-dep@1.0.0', 'never', opts, new KeyCache(opts))).toBeNull();
    expect(await dependencyPlan('never', opts, new KeyCache(opts))).toBeNull();
    expect(registry.requests).toEqual([]);
  });

  it('dependencies: verified only when every registry in play publishes keys (auto); always gives a keyless one an empty list', async () => {
    const keyed = await signing();
    const keyless = await signing();
    keyless.keys = false;
    const opts = optsFor(keyed.url, { '@other:registry': keyless.url });
    expect(await dependencyPlan('auto', opts, new KeyCache(opts))).toBeNull();
    const strict = (await dependencyPlan('always', opts, new KeyCache(opts)))!;
    expect(strict.pacote.verifySignatures).toBe(true);
    expect(strict.pacote[keysOptionName(keyless.url)]).toEqual([]);
    expect((strict.pacote[keysOptionName(keyed.url)] as { keyid: string }[]).map((k) => k.keyid)).toEqual([
      keyed.keyid,
    ]);
    const only = optsFor(keyed.url);
    const plan = (await dependencyPlan('auto', only, new KeyCache(only)))!;
    expect(
      unsignedDependencies(plan, [
        { name: 'a', version: '1.0.0', resolved: `${keyed.url}a/-/a-1.0.0.tgz`, signed: false },
        { name: 'b', version: '1.0.0', resolved: `${keyed.url}b/-/b-1.0.0.tgz`, signed: true },
        { name: 'c', version: '1.0.0', resolved: 'https://elsewhere.example/c.tgz', signed: false },
      ]),
    ).toEqual(['a@1.0.0']);
  });
});
