// The judge of tree equality for staging tests: what `npm install -g` itself installs for a spec.
import { join } from 'node:path';
import { inject } from 'vitest';
import { tempDir } from './cli.ts';
import { npm } from './registry.ts';

/**
 * `npm install -g --prefix <a fresh prefix> --prefer-online <spec>` from the test registry (--prefer-online
 * revalidates every packument, so a version a test published later is seen); the folder of package `name` there.
 * `cache`: npm's cache (default: a fresh one); `extra`: more arguments before the spec.
 */
export async function npmGlobal(
  spec: string,
  name: string,
  options: { cache?: string; extra?: string[] } = {},
): Promise<string> {
  const prefix = tempDir('rs-npm-global-');
  await npm(['install', '-g', '--prefix', prefix, '--prefer-online', ...(options.extra ?? []), spec], {
    registry: inject('registryUrl'),
    timeout: 120_000,
    cache: options.cache ?? join(tempDir('rs-npm-global-cache-'), 'cache'),
  });
  return join(prefix, 'lib/node_modules', name);
}
