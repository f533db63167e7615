// Packages as staging tests publish and judge them: a package folder to publish, and what `npm install -g` itself
// installs for a spec (the judge of tree equality).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { Account } from './accounts.ts';
import { tempDir } from './cli.ts';
import { npm } from './registry.ts';

/** A package folder to publish, in a temp folder named `prefix`: its package.json and an index.js holding `index`. */
export function packageDir(pkg: Record<string, unknown>, prefix: string, index = 'module.exports = 1;\n'): string {
  const dir = tempDir(prefix);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  writeFileSync(join(dir, 'index.js'), index);
  return dir;
}

/**
 * `npm install -g --prefix <a fresh prefix> --prefer-online <spec>` from the test registry (--prefer-online
 * revalidates every packument, so a version a test published later is seen); the folder of package `name` there.
 * `cache`: npm's cache (default: a fresh one); `extra`: more arguments before the spec; `owner`: of the prefix (tempDir's).
 */
export async function npmGlobal(
  spec: string,
  name: string,
  options: { cache?: string; extra?: string[]; owner?: Account | null } = {},
): Promise<string> {
  const prefix = tempDir('rs-npm-global-', options.owner);
  await npm(['install', '-g', '--prefix', prefix, '--prefer-online', ...(options.extra ?? []), spec], {
    registry: inject('registryUrl'),
    timeout: 120_000,
    cache: options.cache ?? join(tempDir('rs-npm-global-cache-'), 'cache'),
  });
  return join(prefix, 'lib/node_modules', name);
}
