/**
 * Node 22.1+ keeps V8's compiled code of every module loaded after `module.enableCompileCache()` on disk, so a later
 * start compiles nothing it compiled before: an install loads ~600 modules (ours, pacote, arborist) before its first
 * request. What is in that cache is code we run, so it lives only in a folder of this account's own:
 * `${XDG_CACHE_HOME:-~/.cache}/release-switcher/compile-cache`, made 0700, it and every folder above it owned by us
 * (or root) and writable by no one else (platform/owned-path.ts). Never Node's default, `$TMPDIR/node-compile-cache`:
 * Node makes that with `mkdir -p` and no owner check, and checks an entry only by checksums anyone can compute from
 * our sources, so another user who made the folder first planted code that every later start of ours ran (and an
 * empty folder of theirs turned the cache off). Where no such folder can be had (no HOME, root with a home that is
 * someone else's, a folder others can write) the cache is off: slower, never someone else's code.
 *
 * `NODE_DISABLE_COMPILE_CACHE` (any value) keeps it off. `NODE_COMPILE_CACHE=DIR` is Node's own: Node has already
 * turned the cache on in DIR before this runs, so DIR is checked by the same rule, and when it fails the CLI starts
 * again without it (in our own folder), saying so, rather than run what DIR holds.
 */
import fs from 'node:fs';
import module from 'node:module';
import path from 'node:path';
import { ownedDir } from '../platform/owned-path.js';

interface CompileCacheApi {
  enableCompileCache?: (dir?: string) => { status: number; directory?: string } | undefined;
  getCompileCacheDir?: () => string | undefined;
}

type Decision =
  | { kind: 'off'; warning?: string }
  | { kind: 'enable'; dir: string }
  /** NODE_COMPILE_CACHE names a folder that passed: Node uses it already. */
  | { kind: 'given' }
  /** NODE_COMPILE_CACHE names a folder that failed: start again without it. */
  | { kind: 'refuse'; warning: string };

/** Where the cache goes (or why not) for this environment and account. Creates our own folder when it is missing. */
export function compileCacheDecision(
  env: NodeJS.ProcessEnv,
  uid: number,
  inUse: string | undefined = undefined,
): Decision {
  if (env.NODE_DISABLE_COMPILE_CACHE) return { kind: 'off' };
  if (env.NODE_COMPILE_CACHE) {
    for (const dir of [path.resolve(env.NODE_COMPILE_CACHE), inUse]) {
      if (dir === undefined) continue;
      const owned = ownedDir(dir, { uid, create: false });
      if (!owned.ok)
        return { kind: 'refuse', warning: `NODE_COMPILE_CACHE ignored, its folder is not safe: ${owned.why}` };
    }
    return { kind: 'given' };
  }
  const base = cacheHome(env);
  if (!base) return { kind: 'off' };
  const owned = ownedDir(path.join(base, 'release-switcher', 'compile-cache'), { uid, create: true });
  return owned.ok ? { kind: 'enable', dir: owned.dir } : { kind: 'off', warning: `compile cache off: ${owned.why}` };
}

/** XDG's cache home: `$XDG_CACHE_HOME` when absolute (the spec ignores a relative one), else `$HOME/.cache`. */
export function cacheHome(env: NodeJS.ProcessEnv): string | undefined {
  if (env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME)) return env.XDG_CACHE_HOME;
  if (env.HOME && path.isAbsolute(env.HOME)) return path.join(env.HOME, '.cache');
  return undefined;
}

function warn(text: string): void {
  // Synchronous: a start again by execve replaces this process before an asynchronous write would be flushed.
  fs.writeSync(2, `release-switcher: ${text}\n`);
}

/** Turn the compile cache on, in our own folder, or leave it off (see above). Called first by the bin. */
export function startCompileCache(): void {
  const api = module as CompileCacheApi;
  // Node < 22.1 has no compile cache; a system without uids (Windows) keeps Node's default, a folder of the user's.
  if (!api.enableCompileCache) return;
  if (process.getuid === undefined) {
    api.enableCompileCache();
    return;
  }
  let decision: Decision;
  try {
    decision = compileCacheDecision(process.env, process.getuid(), api.getCompileCacheDir?.());
  } catch (error) {
    decision = { kind: 'off', warning: `compile cache off: ${(error as Error).message}` };
  }
  if (decision.kind === 'enable') api.enableCompileCache(decision.dir);
  if (decision.kind === 'off' && decision.warning) warn(decision.warning);
  if (decision.kind === 'refuse') startAgainWithout(decision.warning);
}

/** The same command again, in this process, without NODE_COMPILE_CACHE: what Node loaded from it is left behind. */
function startAgainWithout(warning: string): void {
  const env = { ...process.env };
  delete env.NODE_COMPILE_CACHE;
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  if (!execve) {
    warn(`${warning}; this Node (${process.version}) cannot start again without it: unset NODE_COMPILE_CACHE`);
    process.exit(1);
  }
  warn(warning);
  execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], env);
}
