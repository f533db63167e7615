// Dedupe and the symlink check on real installs: packages published to the test registry (Verdaccio) whose
// install scripts do what esbuild's do (two names on one inode) and what an attacker's would (a symlink chain
// out of the release). Each is installed and switched to through the built CLI.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { cli, rs, tempDir } from '../support/cli.ts';
import { npm, publish } from '../support/registry.ts';
import { linkOf, releaseDirs, stagingEntries } from '../support/root.ts';

/** Pack and publish a one-file package whose `postinstall` runs `script` (CommonJS, cwd = the package). */
async function publishWithPostinstall(name: string, script: string, files: Record<string, string> = {}): Promise<void> {
  const dir = join(tempDir('rs-trust-pkg-'), name);
  const all: Record<string, string> = {
    'package.json': JSON.stringify({
      name,
      version: '1.0.0',
      license: 'MIT',
      main: 'index.js',
      scripts: { postinstall: 'node postinstall.js' },
    }),
    'index.js': 'module.exports = 1;\n',
    'postinstall.js': script,
    ...files,
  };
  for (const [rel, content] of Object.entries(all)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  const { stdout } = await npm(['pack', dir, '--pack-destination', join(dir, '..'), '--json'], {});
  await publish(join(dir, '..', (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename), {
    registry: inject('registryUrl'),
  });
}

async function rootFor(name: string): Promise<string> {
  const root = join(tempDir('rs-root-'), 'root');
  const r = await cli(['--root', root, '--json', 'init', '--package', name, '--registry', inject('registryUrl')]);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  return root;
}

describe('install scripts and the seal', () => {
  it('an esbuild-style link(a, tmp); rename(tmp, b) installs, and switch succeeds', async () => {
    const name = 'rs-trust-hardlink';
    await publishWithPostinstall(
      name,
      `const fs = require('node:fs');
fs.linkSync('lib/binary', 'bin/tool.tmp');
fs.renameSync('bin/tool.tmp', 'bin/tool');
`,
      { 'lib/binary': 'the real binary\n', 'bin/tool': 'a shim replaced at install\n' },
    );
    const root = await rootFor(name);
    const installed = await rs(root, ['install', `${name}@1.0.0`]);
    expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
    const switched = await rs(root, ['switch', '1.0.0']);
    expect(switched.exitCode, switched.stdout + switched.stderr).toBe(0);
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
  });

  it('a symlink chain whose links are each lexically inside but resolve to /etc is refused: RELEASE_UNSAFE', async () => {
    const name = 'rs-trust-escape';
    // x/y/a -> ../.. is the release root; each b<i> -> b<i-1>/.. climbs one more level (lexically x/y);
    // x/y/etc -> b30/etc is, lexically, inside the release, and really /etc.
    await publishWithPostinstall(
      name,
      `const fs = require('node:fs');
fs.mkdirSync('x/y', { recursive: true });
fs.symlinkSync('../..', 'x/y/a');
fs.symlinkSync('a/..', 'x/y/b0');
for (let i = 1; i <= 30; i++) fs.symlinkSync('b' + (i - 1) + '/..', 'x/y/b' + i);
fs.symlinkSync('b30/etc', 'x/y/etc');
`,
    );
    const root = await rootFor(name);
    const installed = await rs(root, ['install', `${name}@1.0.0`]);
    expect(installed.exitCode, installed.stdout + installed.stderr).toBe(1);
    expect(installed.json.error.code).toBe('RELEASE_UNSAFE');
    expect(releaseDirs(root)).toEqual([]);
    expect(stagingEntries(root)).toEqual([]);
    expect(linkOf(root, 'current')).toBeNull();
  });

  it('a symlink an install script points outside the release (absolute, or by ..) is refused: RELEASE_UNSAFE, not a dependency failure', async () => {
    for (const [name, target] of [
      ['rs-trust-abs-link', '/etc'],
      ['rs-trust-dotdot-link', '../../../etc'],
    ] as const) {
      await publishWithPostinstall(name, `require('node:fs').symlinkSync(${JSON.stringify(target)}, 'escape');\n`);
      const root = await rootFor(name);
      const installed = await rs(root, ['install', `${name}@1.0.0`]);
      expect(installed.exitCode, installed.stdout + installed.stderr).toBe(1);
      expect(installed.json.error).toMatchObject({
        code: 'RELEASE_UNSAFE',
        message: expect.stringContaining('outside the release'),
      });
      expect(releaseDirs(root)).toEqual([]);
      expect(stagingEntries(root)).toEqual([]);
      expect(linkOf(root, 'current')).toBeNull();
    }
  });
});
