/**
 * npm's cache folder (`~/.npm` unless npm's `cache` says otherwise), as we first use it. npm makes it with the umask's
 * mode (0755): every packument, tarball and index entry in it (which requests were made, with which headers) is then
 * readable by every user who can reach the folder, and `useradd -m` homes are often 0755. Where we are the first to
 * make it, it and its `_cacache` are made 0700: npm, run by the same account, uses them as ever. One that exists is
 * left as it is: its owner may share it on purpose (a group cache), and npm's own rules then apply.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type RunAs, actsForAnother } from './run-as.js';
import { runCaptured } from './subprocess.js';

const prepared = new Set<string>();

/** Make `npmCache` and its `_cacache` 0700 where they do not exist yet (once per process and folder; never fails). */
export function makeNpmCachePrivate(npmCache: string): void {
  const dir = path.resolve(npmCache);
  if (prepared.has(dir)) return;
  prepared.add(dir);
  for (const folder of [dir, path.join(dir, '_cacache')]) {
    try {
      // recursive: a missing parent too (npm's `cache` may name a folder deep in one that is not there yet).
      fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
    } catch {
      return; // not ours to make (no such parent, no rights): npm says so in its own words when it needs it
    }
  }
}

/**
 * The same for the npm we start for the service (its plugins' downloads, finalize's review), as its account: the cache
 * its environment names (`npm_config_cache`, else `~/.npm` of its HOME), made 0700 where it is not there yet and its
 * parent is. For another account (root acting for it) by `mkdir` run as that account: the folder is in its home, where
 * root makes nothing and chowns nothing by path (a link planted between the two would hand root's file to it). Never
 * fails: npm makes it as before when this cannot.
 */
export async function makeServiceNpmCachePrivate(env: NodeJS.ProcessEnv, who: RunAs | undefined): Promise<void> {
  const cache = env.npm_config_cache ?? env.NPM_CONFIG_CACHE ?? (env.HOME ? path.join(env.HOME, '.npm') : undefined);
  if (!cache || !path.isAbsolute(cache) || fs.existsSync(cache) || !fs.existsSync(path.dirname(cache))) return;
  if (!actsForAnother(who)) {
    await fs.promises.mkdir(cache, { mode: 0o700 }).catch(() => undefined);
    return;
  }
  await runCaptured('/bin/mkdir', ['-m', '0700', '--', cache], {
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
    timeoutMs: 20_000,
    as: who,
  }).catch(() => undefined);
}
