// Adopting an `npm install -g --prefix` install of the fixture as the first release, leaving it untouched.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { cli, cliEnv, rs, tempDir } from '../support/cli.ts';
import { writablePaths } from '../support/root.ts';

describe('init --adopt', () => {
  it('copies an npm -g install into a sealed release, points current at it, leaves the original alone', async () => {
    const prefix = tempDir('rs-npm-g-');
    execFileSync(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        'rs-fixture-gateway@1.0.0',
        '--registry',
        inject('registryUrl'),
        '--no-audit',
        '--no-fund',
      ],
      { env: cliEnv(), stdio: 'pipe' },
    );
    const installed = join(prefix, 'lib/node_modules/rs-fixture-gateway');
    const before = statSync(join(installed, 'server.js'));
    const root = join(tempDir('rs-adopt-'), 'root');
    const r = await cli(['--root', root, '--json', 'init', '--registry', inject('registryUrl'), '--adopt', installed]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result.config.package).toBe('rs-fixture-gateway');
    expect(r.json.result.adopted).toMatchObject({
      version: '1.0.0',
      current: '1.0.0',
      path: join(root, 'releases/1.0.0'),
    });
    expect(r.json.result.adopted.next).toMatch(/unit --install/);
    // The release is a sealed copy with a manifest; the original install is untouched.
    const release = join(root, 'releases/1.0.0');
    expect(writablePaths(release)).toEqual([]);
    expect(JSON.parse(readFileSync(join(release, '.release-switcher.json'), 'utf8')).source).toBe(
      `adopted:${installed}`,
    );
    const after = statSync(join(installed, 'server.js'));
    expect([after.ino, after.mode, after.mtimeMs]).toEqual([before.ino, before.mode, before.mtimeMs]);
    expect(
      execFileSync(process.execPath, [join(root, 'current/server.js'), '--version'], { encoding: 'utf8' }).trim(),
    ).toBe('1.0.0');
    const list = await rs(root, ['list']);
    expect(list.json.result.releases).toEqual([
      expect.objectContaining({ version: '1.0.0', state: 'good', current: true }),
    ]);
    // From there on it is an ordinary root.
    expect((await rs(root, ['install', 'rs-fixture-gateway@1.1.0'])).exitCode).toBe(0);
    expect((await rs(root, ['switch', '1.1.0'])).json.result).toMatchObject({ status: 'switched', from: '1.0.0' });
  });

  it('refuses a folder that is not an installed package, or another package', async () => {
    const root = join(tempDir('rs-adopt-'), 'root');
    const r = await cli(['--root', root, '--json', 'init', '--package', 'rs-fixture-gateway', '--adopt', tempDir()]);
    expect([r.exitCode, r.json.error.code]).toEqual([1, 'BAD_PACKAGE_JSON']);
    expect(readFileSync(join(root, 'config.json'), 'utf8')).toMatch(/rs-fixture-gateway/);
  });
});
