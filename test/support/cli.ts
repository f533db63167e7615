// Running the built CLI the way a user does: a real process, its exit code, stdout and stderr together.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, inject, onTestFinished } from 'vitest';
import { type Account, accountOrDefault, accountTempDir, asAccount, reachableBy } from './accounts.ts';
import { copyRoot } from './root.ts';
import { toolHomeFor } from './tool-home.ts';

export const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as the JSON envelope, when it is JSON. */
  json: any;
}

function removeTree(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // Installed releases carry the immutable attribute where root may set it: clear it, then remove.
    spawnSync('chattr', ['-R', '-f', '-i', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Temp dirs made in hooks (and the file's npm cache), removed after the test file's last hook. Not at the process's
 * exit: vitest ends a file's worker without running its exit listeners, which left one npm cache per file behind.
 */
const afterFile = new Set<string>();
/**
 * Registered when a test file imports this module, so on that file's suite: its last afterAll, since hooks run in
 * reverse order (a file's own afterAll, which stops a manager or pm2, runs before this). Where files share a worker
 * and its modules (the unit tier: `isolate: false`), test/unit-setup.ts registers it again for each file.
 */
export function cleanAfterFile(): void {
  try {
    afterAll(() => {
      for (const dir of afterFile) removeTree(dir);
      afterFile.clear();
      // Removed above: the next file of a shared worker makes its own.
      shared = undefined;
      accountHomes.clear();
    });
  } catch {
    // Imported outside a test file's collection (a global setup, a bench script): nothing to register on.
  }
}
cleanAfterFile();

/**
 * A temp dir removed when the current test finishes (made in a hook: after the test file's last hook); owned by
 * `owner` (0700) when one is given, else by the test process.
 */
/** `owner`: the account that owns it. @default the default test account (accounts.ts); `null`: the test process. */
export function tempDir(prefix = 'rs-test-', owner?: Account | null): string {
  const who = accountOrDefault(owner);
  const dir = who ? accountTempDir(who, prefix) : mkdtempSync(join(tmpdir(), prefix));
  try {
    onTestFinished(() => removeTree(dir));
  } catch {
    afterFile.add(dir);
  }
  return dir;
}

/** One npm cache per test file: warm across its tests, never the user's; made on first use. */
let shared: string | undefined;
function npmHome(): string {
  if (shared) return shared;
  shared = mkdtempSync(join(tmpdir(), 'rs-test-npm-'));
  writeFileSync(join(shared, 'npmrc'), '');
  afterFile.add(shared);
  return shared;
}

export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  const shared = npmHome();
  const userconfig = join(shared, 'npmrc');
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: shared,
    npm_config_cache: join(shared, 'cache'),
    npm_config_logs_dir: join(shared, 'logs'),
    npm_config_userconfig: userconfig,
    npm_config_update_notifier: 'false',
    // The host's list of roots that init writes as root: the file's own, never the machine's /var/lib one.
    RELEASE_SWITCHER_SYSTEM_ROOTS: join(shared, 'system-roots.json'),
    // release-switcher's pinned copy: one per account per run (tool-home.ts).
    RELEASE_SWITCHER_TOOL_HOME: toolHomeFor(null),
    ...extra,
  };
}

export interface CliOptions {
  env?: Record<string, string>;
  cwd?: string;
  timeout?: number;
  /**
   * Run as this account (its uid, gid and groups; its own npm home and cache, which is also where it starts unless
   * `cwd` says otherwise). @default the default test account (accounts.ts: the normal account when the suite runs as
   * root); `null`: the test process's own (a case about root).
   */
  as?: Account | null | undefined;
  /** A command the CLI's command line runs under (e.g. `unshare -m …` with a host file of the test's own). */
  prefix?: readonly string[];
}

export async function cli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const as = accountOrDefault(options.as);
  const [command, argv] = as
    ? asAccount(as, runnableBy(as).node, [runnableBy(as).cli, ...args])
    : [process.execPath, [CLI, ...args]];
  const [file, ...prefixed] = [...(options.prefix ?? []), command, ...argv];
  const result = await execa(file!, prefixed, {
    env: as ? accountCliEnv(as, options.env) : cliEnv(options.env),
    extendEnv: false,
    cwd: options.cwd ?? (as ? accountCwd(as) : undefined),
    reject: false,
    timeout: options.timeout ?? 120_000,
  });
  let json: unknown;
  try {
    json = JSON.parse(result.stdout);
  } catch {
    json = undefined;
  }
  return {
    exitCode: result.exitCode ?? -1,
    stdout: result.stdout,
    stderr: result.stderr,
    json,
    signal: result.signal,
  } as CliResult;
}

/** Per account: its npm home (cache, logs, an empty npmrc), owned by it, removed after the test file. */
const accountHomes = new Map<number, string>();
function accountNpmHome(who: Account): string {
  let home = accountHomes.get(who.uid);
  if (!home) {
    home = accountTempDir(who, 'rs-test-npm-');
    writeFileSync(join(home, 'npmrc'), '');
    chownSync(join(home, 'npmrc'), who.uid, who.gid);
    accountHomes.set(who.uid, home);
    afterFile.add(home);
  }
  return home;
}

/**
 * Where a command run as `who` starts: a folder of its own, as a login starts in its home. Not the test process's
 * (the checkout): a checkout under /root is closed to it, and a child spawned there (pm2's daemon) fails with EACCES.
 */
export function accountCwd(who: Account): string {
  return accountNpmHome(who);
}

export function accountCliEnv(who: Account, extra: Record<string, string> = {}): Record<string, string> {
  const home = accountNpmHome(who);
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    USER: who.name,
    LOGNAME: who.name,
    npm_config_cache: join(home, 'cache'),
    npm_config_logs_dir: join(home, 'logs'),
    npm_config_userconfig: join(home, 'npmrc'),
    npm_config_update_notifier: 'false',
    // The host's list of roots that init writes as root: the file's own, never the machine's /var/lib one.
    RELEASE_SWITCHER_SYSTEM_ROOTS: join(home, 'system-roots.json'),
    // release-switcher's pinned copy: one per account per run (tool-home.ts).
    RELEASE_SWITCHER_TOOL_HOME: toolHomeFor(who),
    ...extra,
  };
}

/** What `who` runs: Node, the built CLI, and the package folder they are in (its node_modules/.bin: pm2). */
export interface Runnable {
  node: string;
  cli: string;
  packageDir: string;
}

/**
 * The Node and the built CLI as `who` can run them: these very files when every folder on their way is open to it,
 * else a hardlinked copy of the package (dist, node_modules, package.json, layout) and of Node in the run's temp
 * folder (a checkout under /root, as a CI clone may be, is closed to other accounts).
 */
const runnable = new Map<number, Runnable>();
export function runnableBy(who: Account): Runnable {
  const known = runnable.get(who.uid);
  if (known) return known;
  const packageDir = reachableBy(who, CLI) ? PACKAGE_DIR : copyForAccounts(PACKAGE_DIR, 'package');
  const found = {
    node: reachableBy(who, process.execPath) ? process.execPath : copyForAccounts(process.execPath, 'node'),
    cli: join(packageDir, 'dist', 'cli', 'main.js'),
    packageDir,
  };
  runnable.set(who.uid, found);
  return found;
}

const PACKAGE_DIR = resolve(import.meta.dirname, '../..');
/** Copies made once per run (under RS_RUN_TMP, removed with it), shared by every test file. */
function copyForAccounts(source: string, what: 'node' | 'package'): string {
  const dir = join(process.env.RS_RUN_TMP ?? tmpdir(), `shared-for-accounts-${what}`);
  const target = what === 'node' ? join(dir, 'node') : dir;
  if (existsSync(join(dir, '.done'))) return target;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const entries =
    what === 'node' ? [source] : ['dist', 'node_modules', 'package.json', 'layout'].map((e) => join(source, e));
  for (const entry of entries) {
    const copied = spawnSync('cp', ['-a', '--link', entry, what === 'node' ? target : dir]);
    if (copied.status !== 0) spawnSync('cp', ['-a', entry, what === 'node' ? target : dir]);
  }
  writeFileSync(join(dir, '.done'), '');
  return target;
}

/** A fresh root initialised for the fixture gateway on the test registry. */
export async function fixtureRoot(extraInit: string[] = []): Promise<string> {
  const root = join(tempDir('rs-root-'), 'root');
  const r = await cli([
    '--root',
    root,
    '--json',
    'init',
    '--package',
    'rs-fixture-gateway',
    '--registry',
    inject('registryUrl'),
    ...extraInit,
  ]);
  if (r.exitCode !== 0) throw new Error(`init failed: ${r.stdout}${r.stderr}`);
  return root;
}

/** `cli` with --root and --json. */
export function rs(root: string, args: string[], options: Parameters<typeof cli>[1] = {}): Promise<CliResult> {
  return cli(['--root', root, '--json', ...args], options);
}

/**
 * A root prepared once per test file (the versions installed, `current` on the first one) and
 * copied fresh for each test: installs are the slow part, copies are cheap.
 */
export function templateRoot(versions: string[]): () => string {
  let template: string | undefined;
  beforeAll(async () => {
    template = await fixtureRoot();
    for (const v of versions) expect((await rs(template, ['install', `rs-fixture-gateway@${v}`])).exitCode).toBe(0);
    expect((await rs(template, ['switch', versions[0]!])).exitCode).toBe(0);
  });
  return () => copyRoot(template!, join(tempDir('rs-root-'), 'root'));
}
