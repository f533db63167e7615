/**
 * Which release-switcher root the plugin works on, and whether the gateway really runs from it. The plugin never
 * changes what runs by itself: a gateway started from anywhere but `<root>/releases/<version>` (an `npm install -g`
 * in place, a source checkout) is refused with the two commands that adopt it, and nothing is touched.
 */
import { existsSync, realpathSync } from 'node:fs';
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

/**
 * The root the plugin works on: its config's `root` (the operator's word wins), else the root this process runs from
 * (its entry point resolves into `<root>/releases/<version>`: the path proves it, no setting needed), else the CLI's
 * default ($RELEASE_SWITCHER_ROOT, else $XDG_DATA_HOME/release-switcher). `entry` is the process's `argv[1]`.
 */
export function rootOf(
  pluginConfig: Record<string, unknown> | undefined,
  env: NodeJS.ProcessEnv,
  entry?: string | undefined,
): string {
  const configured = pluginConfig?.root;
  if (typeof configured === 'string' && configured.trim() !== '') return path.resolve(configured);
  const served = entry ? servedRoot(entry) : undefined;
  if (served) return served;
  if (env.RELEASE_SWITCHER_ROOT) return path.resolve(env.RELEASE_SWITCHER_ROOT);
  const dataHome = env.XDG_DATA_HOME || path.join(env.HOME ?? os.homedir(), '.local', 'share');
  return path.join(dataHome, 'release-switcher');
}

/**
 * The release-switcher root an entry point runs from, or undefined: the nearest folder above its real path that is a
 * release (its parent is `releases/`) of a folder holding `config.json`. Through `current` too (the real path is
 * the release's).
 */
export function servedRoot(entry: string): string | undefined {
  let dir = path.dirname(realpathOr(entry));
  while (dir !== path.dirname(dir)) {
    const parent = path.dirname(dir);
    if (path.basename(parent) === 'releases' && existsSync(path.join(path.dirname(parent), 'config.json')))
      return path.dirname(parent);
    dir = parent;
  }
  return undefined;
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

/**
 * The hint for a root that is not the one this OpenClaw runs from: when it runs from a root after all, that root (never
 * the advice to adopt it again, which would make a second root of the same gateway); otherwise how to adopt it.
 */
export async function rootHint(options: { root: string; entry: string; unit: string }): Promise<string> {
  const served = servedRoot(options.entry);
  if (served && served !== path.resolve(options.root))
    return (
      `This OpenClaw runs from the release-switcher root ${served}: give --root ${served}, or set ` +
      `plugins.entries.release-switcher.config.root to it (or remove that setting: the root it runs from is found).`
    );
  return adoptHint({ root: options.root, packageDir: await packageDirOf(options.entry), unit: options.unit });
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
  const hint = await rootHint({ root, entry, unit: process_.env.OPENCLAW_SYSTEMD_UNIT ?? 'openclaw-gateway.service' });
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
