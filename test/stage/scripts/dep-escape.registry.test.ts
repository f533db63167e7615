// A dependency's lifecycle script that points a symlink out of the release is refused as RELEASE_UNSAFE (not a
// dependency failure) on the fast path and on the full install, with nothing left behind; and one that replaces
// its bin with a link to a file outside does not get that file chmod'ed on the way (bin-links makes bin
// targets executable, and chmod follows links).
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { type CliResult, cli, rs, tempDir } from '../../support/cli.ts';
import { npm, publish } from '../../support/registry.ts';
import { linkOf, releaseDirs, stagingEntries } from '../../support/root.ts';

/**
 * Pack `files` as a package; publish it unless told not to. Returns the .tgz. `shrinkwrap`: with an
 * npm-shrinkwrap.json of npm's making inside (from the registry's versions), which only the full install honours.
 */
async function pack(
  name: string,
  files: Record<string, string>,
  options: { publish?: boolean; shrinkwrap?: boolean } = {},
): Promise<string> {
  const dir = join(tempDir('rs-dep-escape-'), name);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  if (options.shrinkwrap) {
    const registry = inject('registryUrl');
    await npm(['install', '--package-lock-only', '--ignore-scripts'], { registry, cwd: dir });
    await npm(['shrinkwrap'], { registry, cwd: dir });
  }
  const { stdout } = await npm(['pack', dir, '--pack-destination', join(dir, '..'), '--json'], {});
  const tgz = join(dir, '..', (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename);
  if (options.publish !== false) await publish(tgz, { registry: inject('registryUrl') });
  return tgz;
}

const app = (name: string, dep: string) => ({
  'package.json': JSON.stringify({
    name,
    version: '1.0.0',
    license: 'MIT',
    main: 'index.js',
    dependencies: { [dep]: '1.0.0' },
  }),
  'index.js': 'module.exports = 1;\n',
});

async function rootFor(name: string): Promise<string> {
  const root = join(tempDir('rs-root-'), 'root');
  const r = await cli(['--root', root, '--json', 'init', '--package', name, '--registry', inject('registryUrl')]);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  return root;
}

async function expectUnsafe(root: string, spec: string, message: RegExp): Promise<CliResult> {
  const r = await rs(root, ['install', spec]);
  expect(r.exitCode, r.stdout + r.stderr).toBe(1);
  expect(r.json.error).toMatchObject({ code: 'RELEASE_UNSAFE', message: expect.stringMatching(message) });
  expect(releaseDirs(root)).toEqual([]);
  expect(stagingEntries(root)).toEqual([]);
  expect(linkOf(root, 'current')).toBeNull();
  return r;
}

describe("a dependency's script that points outside the release", () => {
  let escapeAppTgz: string;
  const sentinel = join(tempDir('rs-dep-escape-outside-'), 'secret');

  beforeAll(async () => {
    await pack('rs-trust-dep-escape', {
      'package.json': JSON.stringify({
        name: 'rs-trust-dep-escape',
        version: '1.0.0',
        license: 'MIT',
        scripts: { postinstall: 'node link.js' },
      }),
      'link.js': `require('node:fs').symlinkSync('../../../../etc', 'escape');\n`,
    });
    await pack('rs-trust-dep-escape-app', app('rs-trust-dep-escape-app', 'rs-trust-dep-escape'));
    escapeAppTgz = await pack('rs-trust-dep-escape-app', app('rs-trust-dep-escape-app', 'rs-trust-dep-escape'), {
      publish: false,
      shrinkwrap: true,
    });
    writeFileSync(sentinel, 'secret\n');
    chmodSync(sentinel, 0o600);
    await pack('rs-trust-binlink-dep', {
      'package.json': JSON.stringify({
        name: 'rs-trust-binlink-dep',
        version: '1.0.0',
        license: 'MIT',
        bin: { 'rs-trust-tool': 'cli.js' },
        scripts: { preinstall: 'node swap.js' },
      }),
      'cli.js': '#!/usr/bin/env node\n',
      'swap.js': `const fs = require('node:fs'); fs.rmSync('cli.js'); fs.symlinkSync(${JSON.stringify(sentinel)}, 'cli.js');\n`,
    });
    await pack('rs-trust-binlink-app', app('rs-trust-binlink-app', 'rs-trust-binlink-dep'));
  }, 180_000);

  it('fast path: RELEASE_UNSAFE, not DEPENDENCY_INSTALL_FAILED, nothing kept', async () => {
    await expectUnsafe(
      await rootFor('rs-trust-dep-escape-app'),
      'rs-trust-dep-escape-app@1.0.0',
      /node_modules\/rs-trust-dep-escape\/escape is a symlink to \.\.\/\.\.\/\.\.\/\.\.\/etc/,
    );
  });

  it('full install (a .tgz file with a shrinkwrap): RELEASE_UNSAFE, not DEPENDENCY_INSTALL_FAILED, nothing kept', async () => {
    const r = await expectUnsafe(
      await rootFor('rs-trust-dep-escape-app'),
      escapeAppTgz,
      /node_modules\/rs-trust-dep-escape\/escape is a symlink to \.\.\/\.\.\/\.\.\/\.\.\/etc/,
    );
    expect(r.stderr).toMatch(/full install: the package has an npm-shrinkwrap\.json/);
  });

  it('a bin replaced by a link to a file outside: RELEASE_UNSAFE before bin-links, the file outside keeps its 0600', async () => {
    await expectUnsafe(
      await rootFor('rs-trust-binlink-app'),
      'rs-trust-binlink-app@1.0.0',
      /bin rs-trust-tool of rs-trust-binlink-dep@1\.0\.0 \(cli\.js\) resolves outside the release/,
    );
    expect(statSync(sentinel).mode & 0o7777).toBe(0o600);
  });
});
