// The bin turns on Node's compile cache (22.1+) before it loads anything else, so a second start of the
// CLI takes V8's code for its modules from disk instead of compiling them again. With NODE_COMPILE_CACHE
// unset, Node keeps it under the temp folder; NODE_DISABLE_COMPILE_CACHE=1 still turns it off.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
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

/** Files Node wrote into the compile cache under `tmp` (one folder per Node version). */
function cached(tmp: string): string[] {
  const dir = join(tmp, 'node-compile-cache');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name);
}

function runCli(tmp: string, extraEnv: Record<string, string> = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, ...extraEnv };
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
    it('the CLI stores its modules’ compiled code, and a second start that uses it answers the same', () => {
      const tmp = tempDir('rs-compile-cache-');
      const first = runCli(tmp);
      // No root there: NOT_INITIALIZED, after the command and its modules were loaded.
      expect(first.status, first.stderr).toBe(1);
      expect(JSON.parse(first.stdout).error.code).toBe('NOT_INITIALIZED');
      // The CLI's own modules and the packages it loads: far more than a handful of entries.
      expect(cached(tmp).length).toBeGreaterThan(20);
      const second = runCli(tmp);
      expect({ status: second.status, stdout: second.stdout }).toEqual({ status: first.status, stdout: first.stdout });
    });

    it('NODE_DISABLE_COMPILE_CACHE=1 keeps it off', () => {
      const tmp = tempDir('rs-compile-cache-off-');
      const run = runCli(tmp, { NODE_DISABLE_COMPILE_CACHE: '1' });
      expect(run.stdout).not.toBe('');
      expect(cached(tmp)).toEqual([]);
    });
  },
);
