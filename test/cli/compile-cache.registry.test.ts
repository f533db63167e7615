// The bin turns on Node's compile cache (22.1+) before it loads anything else, so a second start of the
// CLI takes V8's code for its modules from disk instead of compiling them again. It keeps it in a folder of
// the account's own (~/.cache/release-switcher/compile-cache, 0700), never Node's default under the temp
// folder; NODE_DISABLE_COMPILE_CACHE=1 still turns it off. Another user's attempts on it:
// compile-cache-other-user.registry.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { CLI, tempDir } from '../support/cli.ts';
import { describeWhere } from '../support/skip.ts';

const BENCH_NODE24 = join(import.meta.dirname, '../../.bench-cache/node24');

/** A Node that has module.enableCompileCache: this one, else the bench's Node 24 when it is there. */
function nodeWithCompileCache(): string | undefined {
  if ((module as { enableCompileCache?: unknown }).enableCompileCache) return process.execPath;
  if (process.env.BENCH_NODE24) return process.env.BENCH_NODE24;
  if (existsSync(join(BENCH_NODE24, '.complete'))) return join(BENCH_NODE24, 'bin', 'node');
  return undefined;
}

const node = nodeWithCompileCache();

/** Files Node wrote into the compile cache under `dir` (one folder per Node version). */
function filesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name);
}

/** The account's own compile cache, with HOME at `tmp`/home. */
const ownCache = (tmp: string) => join(tmp, 'home', '.cache', 'release-switcher', 'compile-cache');
/** Where Node's default would have put it. */
const tmpCache = (tmp: string) => join(tmp, 'node-compile-cache');

function runCli(tmp: string, extraEnv: Record<string, string> = {}) {
  mkdirSync(join(tmp, 'home'), { recursive: true, mode: 0o700 });
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, HOME: join(tmp, 'home'), ...extraEnv };
  delete env.XDG_CACHE_HOME;
  delete env.NODE_COMPILE_CACHE;
  if (!extraEnv.NODE_DISABLE_COMPILE_CACHE) delete env.NODE_DISABLE_COMPILE_CACHE;
  const root = join(tmp, 'root');
  return spawnSync(node!, [CLI, '--root', root, 'list', '--json'], { env, encoding: 'utf8', timeout: 60_000 });
}

describeWhere(
  {
    ok: node !== undefined,
    why: `Node ${process.versions.node} has no compile cache and no Node 24 is at BENCH_NODE24 or .bench-cache/node24`,
    where: "under Node 24 (CI's second pass) or where the bench's Node 24 is",
  },
  'compile cache',
  () => {
    it('the CLI stores its modules’ compiled code in the account’s own 0700 folder, and a second start that uses it answers the same', () => {
      const tmp = tempDir('rs-compile-cache-', null);
      const first = runCli(tmp);
      // No root there: NOT_INITIALIZED, after the command and its modules were loaded.
      expect(first.status, first.stderr).toBe(1);
      expect(JSON.parse(first.stdout).error.code).toBe('NOT_INITIALIZED');
      // The CLI's own modules and the packages it loads: far more than a handful of entries.
      expect(filesIn(ownCache(tmp)).length).toBeGreaterThan(20);
      expect(statSync(ownCache(tmp)).mode & 0o777).toBe(0o700);
      // Nothing in the temp folder, where Node's default would have put it.
      expect(filesIn(tmpCache(tmp))).toEqual([]);
      const second = runCli(tmp);
      expect({ status: second.status, stdout: second.stdout }).toEqual({ status: first.status, stdout: first.stdout });
    });

    it('NODE_DISABLE_COMPILE_CACHE=1 keeps it off', () => {
      const tmp = tempDir('rs-compile-cache-off-', null);
      const run = runCli(tmp, { NODE_DISABLE_COMPILE_CACHE: '1' });
      expect(run.stdout).not.toBe('');
      expect(filesIn(ownCache(tmp))).toEqual([]);
      expect(filesIn(tmpCache(tmp))).toEqual([]);
    });
  },
);
