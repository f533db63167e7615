// Registry credentials kept out of what is written down (platform/npm-credentials.ts): a URL's user and password
// stripped, moved to the registry's own `_auth` npm reads (unless auth is set for it already); secret settings told
// apart in any case; npm_config_* variables read as npm reads them (a `//host/:_authToken` keeps its name); the key
// of a kept tree (tree-cache.ts) the same with or without credentials, and without them in it.
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { readNpmConfig } from '../../src/cli/npmrc.ts';
import { makeNpmCachePrivate, makeServiceNpmCachePrivate } from '../../src/platform/npm-cache.ts';
import {
  credentialsAsAuth,
  hasUrlCredentials,
  isSecretSetting,
  nerfDart,
  refuseSpecCredentials,
  stripUrlCredentials,
} from '../../src/platform/npm-credentials.ts';
import { resolutionSettings, treeKey } from '../../src/stage/resolve/tree-cache.ts';
import { itWhere } from '../support/skip.ts';

const basic = (pair: string) => Buffer.from(pair).toString('base64');

describe('URL credentials', () => {
  it('strips a user and password, and leaves anything else as it is', () => {
    expect(stripUrlCredentials('https://ada:pw@reg.example/npm/')).toBe('https://reg.example/npm/');
    expect(stripUrlCredentials('https://ada@reg.example/')).toBe('https://reg.example/');
    expect(stripUrlCredentials('https://reg.example/a?b=1')).toBe('https://reg.example/a?b=1');
    expect(stripUrlCredentials('not a url')).toBe('not a url');
    expect(hasUrlCredentials('http://:pw@127.0.0.1:4873/')).toBe(true);
    expect(hasUrlCredentials('http://127.0.0.1:4873/')).toBe(false);
  });

  it('refuses a spec whose URL names a user or password, without repeating them; any other spec passes', () => {
    expect(() => refuseSpecCredentials(' https://ada:pw@reg.example/app/-/app-1.0.0.tgz ')).toThrow(
      expect.objectContaining({
        code: 'INVALID_SPEC',
        message: expect.not.stringContaining('pw'),
        hint: expect.stringContaining('//reg.example/app/-/:_auth'),
      }),
    );
    expect(() => refuseSpecCredentials('https://:pw@reg.example/app.tgz')).toThrow(/with a user or password/);
    for (const spec of ['https://reg.example/app.tgz', 'app@1.2.3', './app.tgz', 'latest'])
      expect(() => refuseSpecCredentials(spec)).not.toThrow();
  });

  it('names a registry as npm does: host, port and folder, no protocol or credentials', () => {
    expect(nerfDart('http://127.0.0.1:4873/')).toBe('//127.0.0.1:4873/');
    expect(nerfDart('https://ada:pw@reg.example/npm/')).toBe('//reg.example/npm/');
    expect(nerfDart('https://reg.example/npm/pkg')).toBe('//reg.example/npm/');
  });

  it("moves them to the registry's _auth, for the registry and every scope's, decoded", () => {
    expect(
      credentialsAsAuth({
        registry: 'https://ada:p%40ss@reg.example/npm/',
        '@corp:registry': 'https://bob:x@corp.example/',
        cache: '/c',
      }),
    ).toEqual({
      registry: 'https://reg.example/npm/',
      '//reg.example/npm/:_auth': basic('ada:p@ss'),
      '@corp:registry': 'https://corp.example/',
      '//corp.example/:_auth': basic('bob:x'),
      cache: '/c',
    });
  });

  it('keeps auth already set for the registry (npm used it first before too), and changes nothing without credentials', () => {
    const token = { registry: 'https://ada:pw@reg.example/', '//reg.example/:_authToken': 't' };
    expect(credentialsAsAuth(token)).toEqual({ registry: 'https://reg.example/', '//reg.example/:_authToken': 't' });
    const plain = { registry: 'https://reg.example/', timeout: 5 };
    expect(credentialsAsAuth(plain)).toEqual(plain);
  });

  it('tells secret settings in any case', () => {
    for (const name of [
      '_auth',
      '//h/:_authToken',
      '//h/:_authtoken',
      '//h/:_password',
      '//h/:username',
      'email',
      '//h/:keyfile',
      'otp',
      'my-token',
      'PASSWORD',
    ])
      expect(isSecretSetting(name), name).toBe(true);
    for (const name of ['registry', 'omit', 'legacy-peer-deps', 'before', '@s:registry'])
      expect(isSecretSetting(name), name).toBe(false);
  });
});

describe('npm settings from the environment', () => {
  it('are read as npm reads them: a registry’s own keeps its name, others folded; empty ones unset', () => {
    const config = readNpmConfig(
      {
        HOME: '/nonexistent',
        'npm_config_//127.0.0.1:4873/:_authToken': 'tok',
        npm_config__auth: 'b64',
        NPM_CONFIG_LEGACY_PEER_DEPS: 'true',
        npm_config_omit: '',
      },
      '/nonexistent',
    );
    expect(config).toEqual({ '//127.0.0.1:4873/:_authToken': 'tok', _auth: 'b64', 'legacy-peer-deps': 'true' });
  });
});

describe("a kept tree's key", () => {
  const input = {
    name: 'app',
    version: '1.0.0',
    integrity: 'sha512-x',
    from: 'registry' as const,
    nodeVersion: '24.1.0',
    npmConfig: {} as Record<string, string>,
    registry: 'https://reg.example/',
  };

  it('is the same with or without credentials, in the registry URL or in settings of any case', () => {
    const plain = treeKey(input);
    expect(treeKey({ ...input, registry: 'https://ada:pw@reg.example/' })).toBe(plain);
    expect(
      treeKey({
        ...input,
        npmConfig: { '//reg.example/:_authtoken': 'tok', _auth: 'b64', '//reg.example/:_password': 'cHc=' },
      }),
    ).toBe(plain);
    expect(treeKey({ ...input, npmConfig: { 'legacy-peer-deps': 'true' } })).not.toBe(plain);
  });

  it('holds a scope registry without its credentials', () => {
    expect(resolutionSettings({ '@corp:registry': 'https://bob:x@corp.example/', omit: 'dev' })).toEqual([
      ['@corp:registry', 'https://corp.example/'],
      ['omit', 'dev'],
    ]);
  });
});

describe("npm's cache folder", () => {
  const base = mkdtempSync(path.join(tmpdir(), 'rs-npm-cache-'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  const mode = (dir: string) => statSync(dir).mode & 0o777;

  it('is made 0700 with its _cacache where we make it first, whatever the umask', () => {
    const old = process.umask(0o002);
    try {
      makeNpmCachePrivate(path.join(base, 'first', '.npm'));
    } finally {
      process.umask(old);
    }
    expect(mode(path.join(base, 'first', '.npm'))).toBe(0o700);
    expect(mode(path.join(base, 'first', '.npm', '_cacache'))).toBe(0o700);
  });

  it('one that exists is left as its owner made it (a cache shared on purpose keeps working)', async () => {
    const shared = path.join(base, 'shared');
    mkdirSync(shared, { mode: 0o775 });
    makeNpmCachePrivate(shared);
    expect(mode(shared)).toBe(0o775 & ~process.umask());
    const service = path.join(base, 'service-home');
    mkdirSync(path.join(service, '.npm'), { recursive: true, mode: 0o755 });
    await makeServiceNpmCachePrivate({ HOME: service }, undefined);
    expect(mode(path.join(service, '.npm'))).toBe(0o755 & ~process.umask());
    await makeServiceNpmCachePrivate(
      { HOME: path.join(base, 'fresh'), npm_config_cache: path.join(base, 'c') },
      undefined,
    );
    expect(mode(path.join(base, 'c'))).toBe(0o700);
  });

  itWhere(
    {
      ok: process.getuid?.() === 0 && existsSync('/usr/bin/setpriv'),
      why: 'root acting for another account needs root and setpriv',
      where: 'in CI, which runs the suite as root',
    },
    "root, for the service's account: made by that account in its own home (its uid, 0700), nothing where it may not write",
    async () => {
      // nobody stands for the service account: a home of its own in a folder it may pass through.
      const nobody = { name: 'nobody', uid: 65534, gid: 65534 };
      const top = mkdtempSync('/tmp/rs-npm-cache-as-');
      onTestFinished(() => rmSync(top, { recursive: true, force: true }));
      chmodSync(top, 0o711);
      const home = path.join(top, 'home');
      mkdirSync(home, { mode: 0o755 });
      chownSync(home, nobody.uid, nobody.gid);
      await makeServiceNpmCachePrivate({ HOME: home }, nobody);
      expect(statSync(path.join(home, '.npm'))).toMatchObject({ uid: nobody.uid, mode: expect.any(Number) });
      expect(mode(path.join(home, '.npm'))).toBe(0o700);
      // A cache named in a folder of root's: the account cannot make it there, and root makes nothing for it.
      const roots = path.join(top, 'roots');
      mkdirSync(roots, { mode: 0o755 });
      await makeServiceNpmCachePrivate({ HOME: home, npm_config_cache: path.join(roots, 'cache') }, nobody);
      expect(existsSync(path.join(roots, 'cache'))).toBe(false);
    },
  );
});
