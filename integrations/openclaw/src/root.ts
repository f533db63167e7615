/**
 * Which release-switcher root the plugin works on, and whether the gateway really runs from it. The plugin never
 * changes what runs by itself: a gateway started from anywhere but `<root>/releases/<version>` (an `npm install -g`
 * in place, a source checkout) is refused with the two commands that adopt it, and nothing is touched.
 */
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Config, isReleaseSwitcherError, readConfig } from 'release-switcher';

/** A refusal: the same fields as release-switcher's errors, so every surface reports it the same way. */
export class Refusal extends Error {
  readonly code: string;
  readonly hint: string;
  constructor(code: string, message: string, hint: string) {
    super(message);
    this.code = code;
    this.hint = hint;
  }
}

/** The plugin's config `root`, else the CLI's default: $RELEASE_SWITCHER_ROOT, else $XDG_DATA_HOME/release-switcher. */
export function rootOf(pluginConfig: Record<string, unknown> | undefined, env: NodeJS.ProcessEnv): string {
  const configured = pluginConfig?.root;
  if (typeof configured === 'string' && configured.trim() !== '') return path.resolve(configured);
  if (env.RELEASE_SWITCHER_ROOT) return path.resolve(env.RELEASE_SWITCHER_ROOT);
  const dataHome = env.XDG_DATA_HOME || path.join(env.HOME ?? os.homedir(), '.local', 'share');
  return path.join(dataHome, 'release-switcher');
}

/** The openclaw package folder a gateway entry point (`process.argv[1]`) belongs to. */
export async function packageDirOf(entry: string): Promise<string> {
  let dir = path.dirname(entry);
  while (dir !== path.dirname(dir)) {
    const manifest = await readFile(path.join(dir, 'package.json'), 'utf8').catch(() => undefined);
    if (manifest && (JSON.parse(manifest) as { name?: string }).name === 'openclaw') return dir;
    dir = path.dirname(dir);
  }
  return path.dirname(entry);
}

export function adoptHint(options: { root: string; packageDir: string; unit: string }): string {
  const { root, packageDir, unit } = options;
  return (
    `Adopt it once from a shell: release-switcher --root ${root} init --preset openclaw --adopt ${packageDir} ` +
    `--unit ${unit} && release-switcher --root ${root} unit --install, then restart the gateway ` +
    `(or set plugins.entries.release-switcher.config.root to the root it runs from).`
  );
}

function realpathOr(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

/**
 * Inside the gateway, before anything changes what runs: the root exists and this very process was started from
 * one of its releases. Resolves with the root's config; rejects with a Refusal that says how to adopt.
 */
export async function assertServedFrom(root: string, process_: { argv: readonly string[]; env: NodeJS.ProcessEnv }) {
  const entry = realpathOr(process_.argv[1] ?? '');
  const hint = adoptHint({
    root,
    packageDir: await packageDirOf(entry),
    unit: process_.env.OPENCLAW_SYSTEMD_UNIT ?? 'openclaw-gateway.service',
  });
  let config: Config;
  try {
    config = await readConfig(root);
  } catch (error) {
    if (isReleaseSwitcherError(error) && error.code === 'NOT_INITIALIZED')
      throw new Refusal(
        'NOT_INITIALIZED',
        `This gateway is not run from a release-switcher root: ${root} has no config.json. Nothing was changed.`,
        hint,
      );
    throw error;
  }
  const releases = `${realpathOr(path.join(root, 'releases'))}${path.sep}`;
  if (!entry.startsWith(releases))
    throw new Refusal(
      'GATEWAY_NOT_IN_ROOT',
      `This gateway runs from ${entry}, not from a release of ${root}; release-switcher would switch releases this ` +
        `process does not run. Nothing was changed.`,
      hint,
    );
  return config;
}
