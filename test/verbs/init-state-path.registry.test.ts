// init refuses a state path that overlaps the root (issue 21, "settings that overlap the root"): one that holds the
// root (a snapshot would copy the root into itself until the names are too long), one inside it (a restore would put
// an old journal over the live one), and `/`. Each is INVALID_CONFIG (exit 1) naming the conflict, and an existing
// root's config is left as it was. A link to the root's parent is seen through.
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, tempDir } from '../support/cli.ts';

async function initRoot(root: string, extra: string[] = []) {
  return cli(['--root', root, '--json', 'init', '--package', 'rs-fixture-gateway', ...extra]);
}

describe('init: state paths apart from the root', () => {
  const cases: [string, (home: string, root: string) => string, RegExp][] = [
    ['the folder that holds the root', (home) => home, /contains the release root/],
    ['the root itself', (_home, root) => root, /contains the release root/],
    ['a file inside the root (its journal)', (_home, root) => join(root, 'state.json'), /is inside the release root/],
    [
      'a wildcard pattern whose fixed part holds the root',
      (home) => join(home, '*', 'state'),
      /contains the release root/,
    ],
    ['/', () => '/', /is the whole file system/],
  ];
  it.each(cases)('refuses %s (INVALID_CONFIG, exit 1, config unchanged)', async (_name, statePath, why) => {
    const home = tempDir('rs-init-overlap-');
    const root = join(home, 'apps', 'root');
    const first = await initRoot(root, ['--state-path', join(home, 'service-state')]);
    expect(first.exitCode, first.stderr).toBe(0);
    const before = readFileSync(join(root, 'config.json'), 'utf8');
    const r = await initRoot(root, ['--state-path', statePath(home, root)]);
    expect([r.exitCode, r.json?.error?.code], r.stdout + r.stderr).toEqual([1, 'INVALID_CONFIG']);
    expect(r.json.error.message).toMatch(why);
    expect(r.json.error.hint).toMatch(/--state-path/);
    expect(readFileSync(join(root, 'config.json'), 'utf8')).toBe(before);
  });

  it('sees through a link: a state path under a symlink to the root is inside the root', async () => {
    const home = tempDir('rs-init-overlap-');
    const root = join(home, 'root');
    expect((await initRoot(root)).exitCode).toBe(0);
    symlinkSync(root, join(home, 'alias'));
    const r = await initRoot(root, ['--state-path', join(home, 'alias', 'releases')]);
    expect([r.exitCode, r.json?.error?.code]).toEqual([1, 'INVALID_CONFIG']);
    expect(r.json.error.message).toMatch(/is inside the release root/);
  });

  it('accepts state beside the root', async () => {
    const home = tempDir('rs-init-overlap-');
    const root = join(home, 'apps', 'root');
    const r = await initRoot(root, [
      '--state-path',
      join(home, '.service'),
      '--state-path',
      join(home, 'apps', 'rootless'),
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json.result.config.statePaths).toEqual([join(home, '.service'), join(home, 'apps', 'rootless')]);
  });
});
