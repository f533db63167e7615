/**
 * Installing a staged package's dependencies and running its lifecycle scripts as `npm install -g`
 * would: production dependencies only, their install scripts run, then the package's own
 * preinstall/install/postinstall (never `prepare`: npm does not run it for registry packages).
 * Everything runs with the configured Node.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import { lookUp, pathExists } from '../platform/fs.js';
import { credentialsAsAuth, stripUrlCredentials } from '../platform/npm-credentials.js';
import { run, tail } from '../platform/subprocess.js';
import type { NodeRuntime } from '../platform/node.js';
import { hasEvent, scriptEnv } from './scripts/dep-scripts.js';
import { runLifecycleEvent } from './scripts/lifecycle-event.js';

const NPM_TIMEOUT_MS = 30 * 60_000;
const LIFECYCLE_EVENTS = ['preinstall', 'install', 'postinstall'] as const;

export interface DependencyOptions {
  pkgDir: string;
  node: NodeRuntime;
  /** `npm-cli.js` or an npm executable; null: the npm beside node, else on PATH. */
  npm: string | null;
  /** The caller's environment: only npm's shape of it reaches npm and the scripts (scriptEnv). */
  env: NodeJS.ProcessEnv;
  /** npm's settings as read for the caller; passed on as npm_config_* (credentials never). @default {} */
  npmConfig?: Record<string, string>;
  npmCache: string;
  registry: string | null;
  onLine?: (line: string) => void;
  signal?: AbortSignal | undefined;
}

export function hasDependencies(pkg: Record<string, unknown>): boolean {
  const deps = pkg.dependencies as Record<string, string> | undefined;
  const optional = pkg.optionalDependencies as Record<string, string> | undefined;
  return Object.keys(deps ?? {}).length + Object.keys(optional ?? {}).length > 0;
}

export async function installDependencies(options: DependencyOptions, pkg: Record<string, unknown>): Promise<void> {
  if (!hasDependencies(pkg)) return;
  const [command, prefixArgs] = await npmCommand(options);
  const env = npmInstallEnv(options);
  const packageJson = path.join(options.pkgDir, 'package.json');
  const original = await fs.readFile(packageJson, 'utf8');
  // npm treats the package folder as a project being developed: it would run its scripts, `prepare`
  // included, and resolve its devDependencies (`--omit=dev` only skips writing them; a dev-only
  // package missing from the registry still fails the install). `npm install -g` does neither, so
  // hide both while npm works, and run the lifecycle scripts ourselves afterwards.
  await fs.writeFile(packageJson, JSON.stringify({ ...pkg, scripts: {}, devDependencies: {} }, null, 2));
  let result: Awaited<ReturnType<typeof run>>;
  try {
    result = await run(
      command,
      [
        ...prefixArgs,
        'install',
        '--omit=dev',
        '--no-audit',
        '--no-fund',
        '--no-save',
        '--ignore-scripts=false',
        '--install-links=false',
        '--loglevel=warn',
        '--no-update-notifier',
      ],
      { cwd: options.pkgDir, env, timeoutMs: NPM_TIMEOUT_MS, onLine: options.onLine, signal: options.signal },
    );
  } finally {
    await fs.writeFile(packageJson, original);
  }
  if (result.exitCode !== 0) throw installFailed('npm install', result.output, result.timedOut);
}

/** The package's own preinstall, install, postinstall: each in a child with npm's environment only, as its dependencies' scripts. */
export async function runLifecycle(options: DependencyOptions, pkg: Record<string, unknown>): Promise<string[]> {
  const ran: string[] = [];
  const env = lifecycleEnv(options);
  for (const event of LIFECYCLE_EVENTS) {
    if (!hasEvent(pkg, event, options.pkgDir)) continue;
    const result = await runLifecycleEvent(options.pkgDir, event, { env, signal: options.signal });
    if (result.exitCode !== 0) throw installFailed(`the ${event} script`, result.output, result.timedOut);
    if ((pkg.scripts as Record<string, string> | undefined)?.[event]) ran.push(event);
  }
  return ran;
}

function installFailed(what: string, output: string, timedOut: boolean): ReleaseSwitcherError {
  if (/ENOSPC|no space left/i.test(output)) {
    return new ReleaseSwitcherError('DISK_FULL', `No space left while running ${what}.`, {
      hint: 'Free some disk (release-switcher prune) and try again.',
    });
  }
  return new ReleaseSwitcherError(
    'DEPENDENCY_INSTALL_FAILED',
    `${what} ${timedOut ? 'timed out' : 'failed'}:\n${tail(output)}`,
    {
      hint: 'Nothing was changed. Check the output above; run with the same --node by hand to reproduce.',
    },
  );
}

/**
 * What `npm install -g` from a clean login shell gives a script (scriptEnv): PATH with the configured
 * Node first, HOME, locale, proxies, TMPDIR, npm's own settings; never the caller's other variables.
 */
function lifecycleEnv(options: DependencyOptions): Record<string, string> {
  const env = scriptEnv(options.env, {
    nodePath: options.node.path,
    npmConfig: options.npmConfig ?? {},
    npmCache: options.npmCache,
  });
  // Without its user and password: a script has no use for them (npm's own credentials never reach scripts).
  if (options.registry) env.npm_config_registry = stripUrlCredentials(options.registry);
  return env;
}

/** For the full install's own npm (which hands its environment on to every dependency's script). */
function npmInstallEnv(options: DependencyOptions): Record<string, string> {
  const env = lifecycleEnv(options);
  // Installing into the package folder: a global, prefix or location setting would send it elsewhere.
  for (const key of Object.keys(env)) if (/^npm_config_(global|prefix|location)$/i.test(key)) delete env[key];
  // The registry URL's user and password as that registry's `_auth`, which npm sends and never writes down (a URL
  // with them lands in every cache entry npm writes: platform/npm-credentials.ts). In its environment, which only
  // this account reads; npm reads a `//` setting's name there as it is.
  if (options.registry) {
    const auth = credentialsAsAuth({ registry: options.registry });
    for (const [key, value] of Object.entries(auth))
      if (key.startsWith('//')) env[`npm_config_${key}`] = value as string;
  }
  return env;
}

/** The npm to run: the configured one, else the `npm` beside `node`, else the one on `searchPath`; null: none. */
export async function locateNpm(configured: string | null, node: string, searchPath: string): Promise<string | null> {
  if (configured) return configured;
  const besideNode = path.join(path.dirname(node), 'npm');
  return (await pathExists(besideNode))
    ? besideNode
    : ((await lookUp('npm', searchPath.split(path.delimiter).filter(Boolean))) ?? null);
}

async function npmCommand(options: DependencyOptions): Promise<[string, string[]]> {
  const npm = await locateNpm(options.npm, options.node.path, options.env.PATH ?? '');
  if (!npm) {
    throw new ReleaseSwitcherError('DEPENDENCY_INSTALL_FAILED', 'No npm found to install dependencies with.', {
      hint: 'Install npm or name it: release-switcher init --npm /path/to/npm-cli.js',
    });
  }
  const real = await fs.realpath(npm);
  return real.endsWith('.js') ? [options.node.path, [real]] : [real, []];
}
