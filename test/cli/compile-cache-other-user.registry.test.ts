// Another user of the host against the compile cache (issue: "the compile cache runs another user's code"). Node's
// default puts it in `$TMPDIR/node-compile-cache/`, made with `mkdir -p` and no owner check: mallory, a second
// normal account, makes that folder first in the shared temp folder (mode 1777, standing for /tmp) and plants
// entries there, or leaves it empty (which turned the cache off for everyone). alice, the normal test account, then
// runs the CLI with that temp folder. The CLI keeps its cache in alice's own 0700 folder, and mallory's gets
// nothing; the control shows that Node's default call, in the same environment, writes alice's compiled code into
// mallory's folder. A NODE_COMPILE_CACHE naming mallory's folder is ignored, with a warning. Every step of mallory's
// runs as mallory (setpriv), every command of the tool as alice.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { type Account, account, asAccount, canUseAccounts, nodeFor, normalAccount } from '../support/accounts.ts';
import { runnableBy, tempDir } from '../support/cli.ts';
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
const accounts = canUseAccounts();

/** Files (path relative to `dir`, owner uid) under `dir`. */
function filesIn(dir: string): { file: string; uid: number }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const file = join(entry.parentPath, entry.name);
      return { file: file.slice(dir.length + 1), uid: statSync(file).uid };
    });
}

function as(who: Account, command: string, args: string[], env: Record<string, string> = {}) {
  const [file, argv] = asAccount(who, command, args);
  return spawnSync(file, argv, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    cwd: '/',
    encoding: 'utf8',
    timeout: 60_000,
  });
}

interface Scene {
  alice: Account;
  mallory: Account;
  /** The shared temp folder (1777, root's). */
  shared: string;
  /** alice's home (0700, hers). */
  home: string;
  /** mallory's folder where Node's default would be. */
  planted: string;
}

/** The shared temp folder with mallory's `node-compile-cache/` in it: 0777 with an entry in it, or empty and 0755. */
function scene(kind: 'planted' | 'empty'): Scene {
  const alice = normalAccount();
  const mallory = account('rs-mallory');
  const shared = tempDir('rs-shared-tmp-', null);
  chmodSync(shared, 0o1777);
  const home = tempDir('rs-alice-home-', alice);
  const planted = join(shared, 'node-compile-cache');
  const made = as(mallory, '/bin/mkdir', ['-m', kind === 'planted' ? '777' : '755', planted]);
  expect(made.status, made.stderr).toBe(0);
  if (kind === 'planted') {
    // An entry where every account's Node would look (one folder per Node version and uid; mallory knows alice's uid),
    // open to all: she may write what she likes there.
    const script = `const fs = require('node:fs'); const dir = process.argv[1]; fs.mkdirSync(dir, { recursive: true, mode: 0o777 }); fs.chmodSync(dir, 0o777); fs.writeFileSync(dir + '/planted', 'not alice’s code');`;
    const entry = join(planted, `v${nodeVersion()}-${process.arch}-planted-${alice.uid}`);
    const wrote = as(mallory, nodeFor(mallory, node!), ['-e', script, entry]);
    expect(wrote.status, wrote.stderr).toBe(0);
  }
  expect(statSync(planted).uid).toBe(mallory.uid);
  return { alice, mallory, shared, home, planted };
}

function nodeVersion(): string {
  return spawnSync(node!, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
}

/** alice's CLI: `list --json` on a root that does not exist (it loads the CLI's modules and answers NOT_INITIALIZED). */
function aliceCli(s: Scene, env: Record<string, string> = {}) {
  const runnable = runnableBy(s.alice);
  return as(s.alice, nodeFor(s.alice, node!), [runnable.cli, '--root', join(s.home, 'root'), '--json', 'list'], {
    HOME: s.home,
    TMPDIR: s.shared,
    ...env,
  });
}

const ownCache = (s: Scene) => join(s.home, '.cache', 'release-switcher', 'compile-cache');

describeWhere(
  {
    ok: node !== undefined && accounts.ok,
    why:
      node === undefined
        ? `Node ${process.versions.node} has no compile cache and no Node 24 is at BENCH_NODE24 or .bench-cache/node24`
        : accounts.why,
    where: "as root on Linux with Node 24 (CI's Node 24 and 26 passes) or the bench's Node 24 at hand",
  },
  "the compile cache against another user's folder in the shared temp folder",
  () => {
    it("keeps alice's compiled code in her own 0700 folder; mallory's planted folder gets nothing (control: Node's default writes it there)", () => {
      const s = scene('planted');
      const before = filesIn(s.planted);
      expect(before.map((f) => f.uid)).toEqual([s.mallory.uid]);

      const run = aliceCli(s);
      expect(run.status, run.stderr).toBe(1);
      expect(JSON.parse(run.stdout).error.code).toBe('NOT_INITIALIZED');
      const own = filesIn(ownCache(s));
      expect(own.length).toBeGreaterThan(20);
      expect(new Set(own.map((f) => f.uid))).toEqual(new Set([s.alice.uid]));
      expect(statSync(ownCache(s)).mode & 0o777).toBe(0o700);
      expect(statSync(ownCache(s)).uid).toBe(s.alice.uid);
      expect(filesIn(s.planted)).toEqual(before);
      // A second start reads only her own: the same answer, still nothing in mallory's folder.
      const again = aliceCli(s);
      expect({ status: again.status, stdout: again.stdout }).toEqual({ status: run.status, stdout: run.stdout });
      expect(filesIn(s.planted)).toEqual(before);

      // Control: the call the bin made before (no folder: Node's default), as alice, in the same environment, then
      // loading the same CLI modules: alice's compiled code lands in mallory's folder, where she controls it.
      const runnable = runnableBy(s.alice);
      const control = as(
        s.alice,
        nodeFor(s.alice, node!),
        [
          '--input-type=module',
          '-e',
          `import m from 'node:module'; m.enableCompileCache(); await import(${JSON.stringify(join(runnable.packageDir, 'dist', 'cli', 'run.js'))});`,
        ],
        { HOME: s.home, TMPDIR: s.shared },
      );
      expect(control.status, control.stderr).toBe(0);
      const written = filesIn(s.planted).filter((f) => f.uid === s.alice.uid);
      expect(written.length, "alice's compiled code in mallory's folder").toBeGreaterThan(20);
    });

    it('an empty folder of mallory’s no longer turns the cache off', () => {
      const s = scene('empty');
      const run = aliceCli(s);
      expect(run.status, run.stderr).toBe(1);
      expect(filesIn(ownCache(s)).length).toBeGreaterThan(20);
      expect(readdirSync(s.planted)).toEqual([]);
    });

    it('NODE_COMPILE_CACHE naming a folder of another user is ignored with a warning: the CLI starts again in its own', () => {
      const s = scene('planted');
      const before = filesIn(s.planted);
      const run = aliceCli(s, { NODE_COMPILE_CACHE: s.planted });
      expect(run.status, run.stderr).toBe(1);
      expect(JSON.parse(run.stdout).error.code).toBe('NOT_INITIALIZED');
      expect(run.stderr).toContain(
        `release-switcher: NODE_COMPILE_CACHE ignored, its folder is not safe: ${s.planted} belongs to uid ${s.mallory.uid}`,
      );
      expect(filesIn(ownCache(s)).length).toBeGreaterThan(20);
      // NODE_COMPILE_CACHE is Node's own: it turns the cache on in that folder before any code of ours runs, so the
      // bin and the three modules it loads to check the folder (cli/compile-cache.ts, platform/owned-path.ts and the
      // one statement of the trust rule it applies, platform/trust-rules.ts) go through it. Nothing after: the rest of
      // the CLI's modules were compiled into alice's own folder.
      const written = filesIn(s.planted).filter((f) => f.uid === s.alice.uid);
      expect(written.length).toBeLessThanOrEqual(4);
      expect(filesIn(s.planted).filter((f) => f.uid !== s.alice.uid)).toEqual(before);
    });

    it('NODE_COMPILE_CACHE naming a folder of alice’s own is used as Node uses it', () => {
      const s = scene('empty');
      const given = join(s.home, 'given-cache');
      const run = aliceCli(s, { NODE_COMPILE_CACHE: given });
      expect(run.status, run.stderr).toBe(1);
      expect(run.stderr).not.toContain('NODE_COMPILE_CACHE ignored');
      expect(filesIn(given).length).toBeGreaterThan(20);
      expect(filesIn(ownCache(s))).toEqual([]);
    });
  },
);
