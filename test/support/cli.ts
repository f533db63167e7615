// Running the built CLI the way a user does: a real process, its exit code, stdout and stderr together.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { beforeAll, expect, inject, onTestFinished } from 'vitest';
import { copyRoot } from './root.ts';

export const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as the JSON envelope, when it is JSON. */
  json: any;
}

/** Temp dirs made in hooks, removed when the test file's process exits (one exit listener for all of them). */
const atExit = new Set<() => void>();
process.on('exit', () => {
  for (const remove of atExit) remove();
});

/** A temp dir removed when the current test finishes (or, made in a hook, when the test file's process exits). */
export function tempDir(prefix = 'rs-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Installed releases carry the immutable attribute where root may set it: clear it, then remove.
      spawnSync('chattr', ['-R', '-f', '-i', dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    onTestFinished(remove);
  } catch {
    atExit.add(remove);
  }
  return dir;
}

/** One npm cache per test file: warm across its tests, never the user's. */
const shared = mkdtempSync(join(tmpdir(), 'rs-test-npm-'));
const userconfig = join(shared, 'npmrc');
writeFileSync(userconfig, '');
process.on('exit', () => rmSync(shared, { recursive: true, force: true }));

export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: shared,
    npm_config_cache: join(shared, 'cache'),
    npm_config_logs_dir: join(shared, 'logs'),
    npm_config_userconfig: userconfig,
    npm_config_update_notifier: 'false',
    ...extra,
  };
}

export async function cli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; timeout?: number } = {},
): Promise<CliResult> {
  const result = await execa(process.execPath, [CLI, ...args], {
    env: cliEnv(options.env),
    extendEnv: false,
    cwd: options.cwd,
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
