// The plugin downloads moved before the stop (presets/openclaw/plugin-prefetch.ts): which specs `plugins list --json` of the
// running release yields (official packages follow the target's cohort, others keep their recorded spec; paths, git
// and URLs are not npm's cache), and how npm is asked (a throwaway folder, removed; no scripts, no peers). npm is a
// stand-in here that records its arguments; the real fetch runs in test/transaction/finalize.openclaw.test.ts.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  OPENCLAW_EXEMPT,
  prefetchPlugins,
  prefetchSpecs,
  reviewablePlugins,
} from '../../../src/presets/openclaw/plugin-prefetch.ts';

const npmInstalled = (installSpec: string) => ({ trust: { installSource: 'npm', installSpec } });

describe('prefetchSpecs', () => {
  it('official packages at the target release, other npm installs by their recorded spec, the rest skipped', () => {
    const list = {
      plugins: [
        { id: 'telegram', origin: 'bundled' },
        { id: 'matrix', ...npmInstalled('@openclaw/matrix') },
        { id: 'discord', ...npmInstalled('@openclaw/discord@2026.9.5') },
        { id: 'weather', ...npmInstalled('openclaw-weather@^1.2.0') },
        { id: 'again', ...npmInstalled('openclaw-weather@^1.2.0') },
        { id: 'local', ...npmInstalled('./plugins/local') },
        { id: 'git', ...npmInstalled('github:someone/plugin') },
        { id: 'hub', trust: { installSource: 'clawhub', installSpec: 'hub-plugin' } },
      ],
    };
    expect(prefetchSpecs(list, '2026.9.6')).toEqual([
      '@openclaw/discord@2026.9.6',
      '@openclaw/matrix@2026.9.6',
      'openclaw-weather@^1.2.0',
    ]);
  });

  it('nothing from output that is not a plugin list', () => {
    expect(prefetchSpecs(undefined, '1.0.0')).toEqual([]);
    expect(prefetchSpecs({ plugins: 'none' }, '1.0.0')).toEqual([]);
    expect(
      prefetchSpecs({ plugins: [null, 1, { trust: { installSource: 'npm', installSpec: '' } }] }, '1.0.0'),
    ).toEqual([]);
  });
});

describe('reviewablePlugins (capability-review-step.ts)', () => {
  const exempt = OPENCLAW_EXEMPT;
  it('every install finalize updates (npm, ClawHub, git) but the exempt official packages, by id', () => {
    const list = {
      plugins: [
        { id: 'telegram', origin: 'bundled' },
        { id: 'bundled-recorded', trust: { installSource: 'bundled', installSpec: 'x' } },
        { id: 'matrix', ...npmInstalled('@openclaw/matrix') },
        { id: 'discord', ...npmInstalled('npm:@openclaw/discord@2026.9.5') },
        { id: 'weather', ...npmInstalled('openclaw-weather@^1.2.0') },
        { id: 'probe', ...npmInstalled('npm:@acme/probe') },
        { id: 'hub', trust: { installSource: 'clawhub', installSpec: 'hub-plugin' } },
        { id: 'official-hub', trust: { installSource: 'clawhub', installSpec: 'clawhub:@openclaw/voice-call' } },
        { id: 'local', ...npmInstalled('./plugins/local') },
        // A folder installed with `plugins install <path>`: finalize has no newer release of it to converge to.
        { id: 'folder', trust: { installSource: 'path', installSpec: '/opt/plugins/folder' } },
        { id: 'git', trust: { installSource: 'git', installSpec: 'github:acme/plugin' } },
      ],
    };
    expect(reviewablePlugins(list, exempt)).toEqual(['git', 'hub', 'local', 'probe', 'weather']);
    // A look-alike scope is no official package.
    expect(reviewablePlugins({ plugins: [{ id: 'x', ...npmInstalled('@openclaw-fan/x') }] }, exempt)).toEqual(['x']);
  });

  it('nothing from output that is not a plugin list', () => {
    expect(reviewablePlugins(undefined, exempt)).toEqual([]);
    expect(reviewablePlugins({ plugins: [null, { id: 3, ...npmInstalled('a') }] }, exempt)).toEqual([]);
  });
});

describe('prefetchPlugins', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'rs-prefetch-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** A running release whose `plugins list --json` prints `list` (stderr noise around it), and an npm that records. */
  function setUp(name: string, list: unknown, npmExit = 0) {
    const release = path.join(work, name, 'release');
    mkdirSync(path.join(release, 'dist'), { recursive: true });
    writeFileSync(
      path.join(release, 'dist', 'index.js'),
      `console.error('[plugins] warming {'); console.log(${JSON.stringify(JSON.stringify(list, null, 2))});\n`,
    );
    const npm = path.join(work, name, 'npm-cli.js');
    const argsFile = path.join(work, name, 'npm-args.json');
    writeFileSync(
      npm,
      `require('fs').writeFileSync(${JSON.stringify(argsFile)}, JSON.stringify({ args: process.argv.slice(2), cwd: process.cwd(), cache: process.env.npm_config_cache }));\nprocess.exit(${npmExit});\n`,
    );
    const workDir = path.join(work, name, 'staging', 'plugins-tx');
    const request = {
      node: process.execPath,
      npm,
      runningDir: release,
      listArgs: ['dist/index.js', 'plugins', 'list', '--json'],
      targetVersion: '2026.9.6',
      env: { PATH: process.env.PATH, npm_config_cache: path.join(work, name, 'service-cache') },
      workDir,
      timeoutMs: 30_000,
    };
    return { request, argsFile, workDir };
  }

  it("fetches with the service's npm cache into a throwaway folder, no scripts, no peers; the folder is gone after", async () => {
    const { request, argsFile, workDir } = setUp('fetch', { plugins: [npmInstalled('@openclaw/matrix')] });
    const result = await prefetchPlugins(request);
    expect(result).toMatchObject({ ok: true, specs: ['@openclaw/matrix@2026.9.6'] });
    const npm = JSON.parse(readFileSync(argsFile, 'utf8'));
    expect(npm.cache).toBe(request.env.npm_config_cache);
    expect(npm.cwd).toBe(workDir);
    expect(npm.args).toEqual(
      expect.arrayContaining(['install', '--prefix', workDir, '--ignore-scripts', '--legacy-peer-deps']),
    );
    expect(npm.args.at(-1)).toBe('@openclaw/matrix@2026.9.6');
    expect(existsSync(workDir)).toBe(false);
    // The service's npm cache, not there before: made 0700 (npm would have made it 0755, its index readable by all).
    expect(statSync(request.env.npm_config_cache).mode & 0o777).toBe(0o700);
  });

  it("a plugin spec whose URL carries a user and password is never on npm's command line", async () => {
    const secret = 'https://ada:s3cret@reg.example/x/-/x-1.0.0.tgz';
    const { request, argsFile } = setUp('credentials', {
      plugins: [
        npmInstalled('@openclaw/matrix'),
        { id: 'x', trust: { installSource: 'npm', installSpec: `x@${secret}` } },
      ],
    });
    expect(prefetchSpecs({ plugins: [{ trust: { installSource: 'npm', installSpec: `x@${secret}` } }] }, '1')).toEqual(
      [],
    );
    await prefetchPlugins(request);
    expect(readFileSync(argsFile, 'utf8')).not.toContain('s3cret');
  });

  it('no npm-installed plugin: npm is not run; a failing npm is reported, not thrown, the folder gone', async () => {
    const none = setUp('none', { plugins: [{ id: 'telegram', origin: 'bundled' }] });
    expect(await prefetchPlugins(none.request)).toMatchObject({ ok: true, specs: [] });
    expect(existsSync(none.argsFile)).toBe(false);

    const failing = setUp('failing', { plugins: [npmInstalled('openclaw-weather')] }, 1);
    expect(await prefetchPlugins(failing.request)).toMatchObject({
      ok: false,
      specs: ['openclaw-weather'],
      detail: expect.stringMatching(/^npm: /),
    });
    expect(existsSync(failing.workDir)).toBe(false);
  });

  it('a list the caller read already (the capability review) is used: the running release is not asked again', async () => {
    const { request, argsFile } = setUp('given', 'x');
    // Its command now fails: reaching it would end the prefetch with nothing fetched.
    writeFileSync(path.join(request.runningDir, 'dist', 'index.js'), 'process.exit(3);\n');
    const result = await prefetchPlugins({ ...request, list: { plugins: [npmInstalled('@openclaw/matrix')] } });
    expect(result).toMatchObject({ ok: true, specs: ['@openclaw/matrix@2026.9.6'] });
    expect(JSON.parse(readFileSync(argsFile, 'utf8')).args.at(-1)).toBe('@openclaw/matrix@2026.9.6');
  });

  it('a list that cannot be read: no fetch, the reason kept', async () => {
    const { request, argsFile } = setUp('unreadable', 'x');
    writeFileSync(path.join(request.runningDir, 'dist', 'index.js'), 'console.error("boom"); process.exit(3);\n');
    expect(await prefetchPlugins(request)).toMatchObject({
      ok: false,
      specs: [],
      detail: expect.stringMatching(/boom/),
    });
    expect(existsSync(argsFile)).toBe(false);
  });
});
