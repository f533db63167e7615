import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { treeOf } from './root.ts';
import { expect, inject } from 'vitest';
import { rs, tempDir } from './cli.ts';
import { publish } from './registry.ts';
import { npmGlobal } from './npm-packages.ts';

export interface StoreFixture {
  app: string;
  a: string;
  b: string;
}

function writePackage(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const APP_DEPS: Record<string, string> = { '1.0.0': '1.0.0', '1.1.0': '1.1.0', '1.2.0': '1.0.0' };

/**
 * a has a bin (cli.js, packed 0644: bin-links makes it executable) and an empty file; same.js is byte-identical in
 * both of its versions; b has a bin too.
 */
export async function publishStoreFixture(prefix: string): Promise<StoreFixture> {
  const fixture = { app: `${prefix}-app`, a: `${prefix}-a`, b: `${prefix}-b` };
  const registry = inject('registryUrl');
  for (const version of ['1.0.0', '1.1.0']) {
    const dir = writePackage(tempDir('rs-cas-src-', null), {
      'package.json': JSON.stringify({ name: fixture.a, version, bin: { [`${prefix}-a`]: 'cli.js' } }),
      'index.js': `module.exports = ${JSON.stringify(version)};\n`,
      'same.js': 'module.exports = "the same in every version";\n',
      'cli.js': `#!/usr/bin/env node\nconsole.log(${JSON.stringify(version)});\n`,
      'empty.txt': '',
    });
    chmodSync(join(dir, 'cli.js'), 0o644);
    await publish(dir, { registry });
  }
  await publish(
    writePackage(tempDir('rs-cas-src-', null), {
      'package.json': JSON.stringify({ name: fixture.b, version: '1.0.0', bin: { [`${prefix}-b`]: 'cli.js' } }),
      'cli.js': '#!/usr/bin/env node\nconsole.log("b");\n',
    }),
    { registry },
  );
  for (const [version, a] of Object.entries(APP_DEPS)) {
    await publish(
      writePackage(tempDir('rs-cas-src-', null), {
        'package.json': JSON.stringify({
          name: fixture.app,
          version,
          main: 'server.js',
          dependencies: { [fixture.a]: a, [fixture.b]: '1.0.0' },
        }),
        'server.js': `console.log(${JSON.stringify(version)});\n`,
      }),
      { registry },
    );
  }
  return fixture;
}

/**
 * A service whose own postinstall does what openclaw's does: it removes a marker its tarball ships (`.pending`)
 * and writes a file of its own (`built.txt`). The versions are alike but for their version and this: 1.2.0's
 * postinstall also rewrites one of its shipped files in place (`server.js`, made writable first), as a script may;
 * 1.3.0's rewrites it without a chmod (npm extracts it writable). Each depends on `a` of the store fixture `fx`, and
 * bundles `<prefix>-tool`.
 */
export async function publishMainFixture(prefix: string, fx: StoreFixture): Promise<string> {
  const name = `${prefix}-svc`;
  const tool = `${prefix}-tool`;
  const registry = inject('registryUrl');
  // Bundled in each version, as openclaw bundles chrome-devtools-mcp: a bin packed 0644 (bin-links makes it
  // executable) and a postinstall of its own.
  const toolFiles = {
    'package.json': JSON.stringify({
      name: tool,
      version: '1.0.0',
      bin: { [tool]: 'cli.js' },
      scripts: { postinstall: 'node built.js' },
    }),
    'cli.js': '#!/usr/bin/env node\nconsole.log("tool");\n',
    'built.js': "require('fs').writeFileSync('built.txt', 'built\\n');\n",
  };
  await publish(writePackage(tempDir('rs-cas-src-', null), toolFiles), { registry });
  const rewrites: Record<string, string> = {
    '1.2.0': "fs.chmodSync('server.js', 0o644); fs.writeFileSync('server.js', 'console.log(\\'rewritten\\');\\n');\n",
    '1.3.0': "fs.writeFileSync('server.js', 'console.log(\\'rewritten\\');\\n');\n",
    // Removes a file every earlier version keeps byte for byte (as root, an immutable inode of theirs).
    '1.4.0': "fs.rmSync('lib.js');\n",
    // Makes the same file writable, as a script may its own shipped files (a normal account may chmod through a link).
    '1.5.0': "fs.chmodSync('lib.js', 0o644);\n",
  };
  for (const version of ['1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.4.0', '1.5.0']) {
    const rewrite = rewrites[version] ?? '';
    const src = tempDir('rs-cas-src-', null);
    writePackage(join(src, 'node_modules', tool), toolFiles);
    await publish(
      writePackage(src, {
        'package.json': JSON.stringify({
          name,
          version,
          main: 'server.js',
          scripts: { postinstall: 'node post.js' },
          dependencies: { [fx.a]: '1.0.0', [tool]: '1.0.0' },
          bundleDependencies: [tool],
        }),
        'server.js': `console.log(${JSON.stringify(version)});\n`,
        'lib.js': 'module.exports = "the same in every version";\n',
        '.pending': 'pending\n',
        'empty.txt': '',
        'post.js': `const fs = require('fs');\nfs.rmSync('.pending');\nfs.writeFileSync('built.txt', 'built\\n');\n${rewrite}`,
      }),
      { registry },
    );
  }
  return name;
}

/**
 * The judge of tree equality: `npm install -g` of `app@version`, with `cache` as npm's cache; its tree. Made once per
 * spec and test file: the fixtures pin every dependency exactly and are published once, so npm's tree of a spec is
 * the same each time it is asked (an `npm install -g` each, ~2 CPU-seconds, was most of a store test's judging).
 */
export function npmTree(app: string, version: string, cache: string): Promise<Record<string, string>> {
  const key = JSON.stringify([app, version, cache]);
  let tree = npmTrees.get(key);
  if (!tree) {
    tree = npmGlobal(`${app}@${version}`, app, { cache, owner: null }).then(treeOf);
    // A failed install is not kept: the next test asks npm again and fails on its own.
    tree.catch(() => npmTrees.delete(key));
    npmTrees.set(key, tree);
  }
  return tree.then((t) => structuredClone(t));
}
const npmTrees = new Map<string, Promise<Record<string, string>>>();

/** Where each file of package `name` in release `version` lives: [path, inode]. */
export function inodesOf(root: string, version: string, name: string): [string, number][] {
  const dir = join(root, 'releases', version, 'node_modules', name);
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((rel) => lstatSync(join(dir, rel)).isFile())
    .sort()
    .map((rel) => [rel, lstatSync(join(dir, rel)).ino]);
}

/** The integrity of package `name` in a release, from its tree record. */
export function integrityIn(root: string, release: string, name: string): string {
  const record = JSON.parse(readFileSync(join(root, 'releases', release, 'node_modules/.package-lock.json'), 'utf8'));
  return record.packages[`node_modules/${name}`].integrity as string;
}

export async function installApp(
  root: string,
  spec: string,
  env: Record<string, string> = {},
): Promise<Awaited<ReturnType<typeof rs>>> {
  const r = await rs(root, ['install', spec], { env });
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  return r;
}
