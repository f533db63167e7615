/**
 * Which file of the release a unit runs when `unit` is given no `--entry`: what the existing unit's own command line
 * names (a file of the package, of `<root>/current` or of a release), else the preset's entry or the current release's
 * `main`; and, when none of those tells, a USAGE error that names what the unit runs.
 */
import path from 'node:path';
import type { Config } from '../store/config.js';
import { ReleaseSwitcherError } from '../model/errors.js';
import { readJsonIfExists } from '../platform/fs.js';
import { layoutOf } from '../store/layout.js';
import { servicePreset } from '../presets/index.js';
import { packageFileOf } from './existing-unit.js';
import type { ServiceOptions } from './unit-text.js';

/** What runs a known package, when no entry is given: the preset's, else the current release's `main`. */
async function defaultEntry(config: Config, root: string): Promise<{ entry: string; args: string[] }> {
  const preset = servicePreset(config);
  if (preset?.entry) return { entry: preset.entry.entry, args: [...preset.entry.args] };
  const pkg = (await readJsonIfExists(path.join(layoutOf(root).current, 'package.json')).catch(() => undefined)) as
    | { main?: unknown }
    | undefined;
  if (typeof pkg?.main === 'string') return { entry: pkg.main, args: [] };
  throw new ReleaseSwitcherError('USAGE', `Cannot tell which file of ${config.package} to run.`, {
    hint: 'Pass it: release-switcher unit --entry server.js [--arg ARG]…',
  });
}

/** What the unit runs, for an error that asks for `--entry`: its name and ExecStart. */
export interface Seen {
  unit: string;
  execStart: string[] | null;
}

/**
 * Over a unit that runs `node [options] SCRIPT [args]`: SCRIPT names the entry when it is a file of the package (in
 * `node_modules/<pkg>/`, `<root>/current/` or a release), the package's `main` when it is `<root>/current` itself.
 * Anything else cannot be told: `--entry` is asked for, naming what the unit runs.
 */
export async function nodeEntry(
  config: Config,
  root: string,
  options: ServiceOptions,
  seen: Seen & { script: string },
): Promise<ServiceOptions> {
  const found = packageFileOf(seen.script, { pkg: config.package, root });
  if (found !== null && found.entry !== '') return options;
  const current = layoutOf(root).current;
  if (found !== null) {
    const main = await mainOf(root);
    if (main) return { ...options, entry: main };
    throw cannotTell(config, seen, `${seen.script} is the release's folder, and its package.json names no main`);
  }
  throw cannotTell(
    config,
    seen,
    `its script ${seen.script} is neither under ${current} nor in a node_modules/${config.package}/ folder`,
  );
}

/** USAGE: which file to run cannot be told; the error names what the unit runs and why it did not tell. */
function cannotTell(config: Config, seen: Seen, why: string): ReleaseSwitcherError {
  const runs = seen.execStart ? `runs ${seen.execStart.join(' ')}` : 'has no ExecStart=';
  return new ReleaseSwitcherError(
    'USAGE',
    `Cannot tell which file of ${config.package} to run: ${seen.unit} ${runs}; ${why}.`,
    {
      hint: 'Name the file of the release to run: release-switcher unit --install --entry FILE (e.g. --entry server.js) [--arg ARG]…',
    },
  );
}

/** The current release's package.json `main`, normalized, when it names one. */
async function mainOf(root: string): Promise<string | undefined> {
  const pkg = (await readJsonIfExists(path.join(layoutOf(root).current, 'package.json')).catch(() => undefined)) as
    | { main?: unknown }
    | undefined;
  return typeof pkg?.main === 'string' && pkg.main !== '' ? pkg.main : undefined;
}

/** The entry (and its arguments) when none was given: the preset's, else the current release's `main`. */
export async function withEntry(
  config: Config,
  root: string,
  options: ServiceOptions,
  how: { overTheirs?: boolean; saw?: Seen } = {},
): Promise<ServiceOptions> {
  if (options.entryGiven) return options;
  const fallback = await defaultEntry(config, root).catch((error: unknown) => {
    if (!how.saw) throw error;
    throw cannotTell(
      config,
      how.saw,
      `it is not a Node script or a command of ${config.package}, and the current release's package.json names no main`,
    );
  });
  // Over somebody's unit whose command could not be read, the preset's default port is not forced on the service:
  // it takes its port where it always did (its environment, its config file, its own default).
  const args = how.overTheirs ? withoutPort(fallback.args) : fallback.args;
  return { ...options, entry: fallback.entry, args: options.args ?? args };
}

/** `args` without `--port N` / `--port=N`. */
function withoutPort(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') i++;
    else if (!args[i]!.startsWith('--port=')) out.push(args[i]!);
  }
  return out;
}
