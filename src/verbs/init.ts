import fs from 'node:fs/promises';
import { makePrivateDir } from '../platform/fs.js';
import { prepareReleasesDir } from '../store/releases-dir.js';
import {
  type Config,
  type Settings,
  defaultConfig,
  readConfigIfExists,
  validateConfig,
  withoutCredentials,
  writeConfig,
} from '../store/config.js';
import { ReleaseSwitcherError } from '../model/errors.js';
import { defaultEnv, defaultExecPath } from '../model/runtime.js';
import { type AccountInfo, lookupAccount } from '../platform/accounts.js';
import { actsAsRootFor } from '../platform/as-account.js';
import { assertStateApartAs, onStateSide } from '../snapshot/state-side.js';
import { layoutOf } from '../store/layout.js';
import { withLock } from '../store/lock.js';
import { withPreset } from '../presets/index.js';
import { systemctl } from '../service/systemctl.js';
import type { CheckpointCoverage } from '../snapshot/coverage.js';
import { notListedBecause, recordRoot, rootsFileFor, rootsFilesOf } from '../store/roots-registry.js';
import { assertRootTrusted, fileTrustError, rootIdentity } from '../store/root-trust.js';

export interface InitOptions {
  root: string;
  /** Settings to write; on an existing root only these change. `package` is required for a new root. */
  settings: Settings;
  /** Seconds to wait for a busy lock. @default 0 */
  waitSeconds?: number;
  /** Where a preset looks for the Node it needs (`PATH`). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** The first Node a preset tries. @default process.execPath */
  execPath?: string;
  /** A Node a preset tries before `execPath`, given the merged settings (adopt: the one the service's unit runs). @default none */
  preferredNode?: (settings: Settings) => Promise<string | undefined>;
  /**
   * The host's list of roots to record this root in, for `--all` (store/roots-registry.ts); null: not recorded.
   * @default as root /var/lib/release-switcher/roots.json, else ${XDG_STATE_HOME:-~/.local/state}/release-switcher/roots.json (from `env`)
   */
  rootsFile?: string | null;
}

export interface InitResult {
  root: string;
  config: Config;
  /** What a state checkpoint covers now, as seen from this environment (when state paths are configured). */
  checkpoint?: CheckpointCoverage;
  /** The list of roots this root is recorded in (`--all` reads it), or why it could not be (`error`; init still succeeded). */
  registered?: { file: string; error?: string; skipped?: string };
}

function hostOf(options: InitOptions): { env: NodeJS.ProcessEnv; execPath: string } {
  return { env: options.env ?? defaultEnv(), execPath: options.execPath ?? defaultExecPath() };
}

/**
 * Create a root, or change settings of an existing one. With `settings.preset`, the preset's settings
 * are written too, except where `settings` names a value itself (see presets/index.ts).
 */
export async function init(options: InitOptions): Promise<InitResult> {
  const result = await initLocked(options);
  const file = options.rootsFile === undefined ? rootsFileFor(rootsFilesOf(hostOf(options).env)) : options.rootsFile;
  if (file === null) return result;
  const skipped = notListedBecause(result.root, file, hostOf(options).env);
  if (skipped) return { ...result, registered: { file, skipped } };
  // The root is made: a list we cannot write is said, not a failed init.
  // The folder as it is now: --all trusts the listed path only while it is still this folder (store/root-trust.ts).
  const identity = rootIdentity(result.root);
  const entry = {
    root: result.root,
    package: result.config.package,
    addedAt: new Date().toISOString(),
    ...(identity ? { identity } : {}),
  };
  // A list another account could write (a HOME kept by `sudo -E`) is neither trusted nor written by root.
  const distrusted = fileTrustError(file);
  const error = distrusted
    ? `${distrusted.message} ${distrusted.hint ?? ''}`.trim()
    : await recordRoot(file, entry).then(
        () => undefined,
        (e: unknown) => (e as Error).message,
      );
  return { ...result, registered: { file, ...(error ? { error } : {}) } };
}

async function initLocked(options: InitOptions): Promise<InitResult> {
  const layout = layoutOf(options.root);
  // Before anything is made: a root of another account's, or under a folder another account may write, is refused.
  assertRootTrusted(layout.root, 'mutate');
  await fs.mkdir(layout.root, { recursive: true });
  return withLock(layout.root, { command: 'init', waitSeconds: options.waitSeconds }, async () => {
    const existing = await readConfigIfExists(layout.root);
    const settings = options.settings.preset
      ? await withPreset({
          name: options.settings.preset,
          explicit: options.settings,
          configured: existing,
          ...hostOf(options),
          preferred: options.preferredNode,
        })
      : options.settings;
    const pkg = settings.package ?? existing?.package;
    if (!pkg) {
      throw new ReleaseSwitcherError('USAGE', `${layout.root} is a new root: --package NAME is required.`, {
        hint: 'Run: release-switcher init --package NAME',
      });
    }
    if (
      existing &&
      settings.package &&
      settings.package !== existing.package &&
      Object.keys(await fs.readdir(layout.releases).catch(() => [])).length > 0
    ) {
      throw new ReleaseSwitcherError('WRONG_PACKAGE', `${layout.root} already holds releases of ${existing.package}.`, {
        hint: 'Use another --root for another package.',
      });
    }
    const defined = Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined));
    const config = await withServiceUser(
      validateConfig({ ...(existing ?? defaultConfig(pkg)), ...defined }, 'settings'),
      hostOf(options).env,
    );
    const state = stateSide(config, hostOf(options).env);
    await assertStateApartAs(state.as, { statePaths: config.statePaths, root: layout.root, env: state.env });
    await prepareReleasesDir(layout, config);
    await makePrivateDir(layout.staging);
    await writeConfig(layout.root, config);
    // What is shown is what config.json holds: the registry URL without its credentials.
    const shown = { ...config, registry: withoutCredentials(config.registry) };
    if (config.statePaths.length === 0) return { root: layout.root, config: shown };
    const checkpoint = await onStateSide(state.as, 'coverage', [], {
      statePaths: config.statePaths,
      independentPaths: config.independentPaths,
      residue: config.residue,
      env: state.env,
    }).catch(() => undefined);
    return { root: layout.root, config: shown, ...(checkpoint && { checkpoint }) };
  });
}

/**
 * Who reads the state paths init checks and shows: root acting for the service's account (`serviceUser`) reads them
 * only as that account (snapshot/state-side.ts: a link it planted never makes root stat or list a folder of root's),
 * with the account's HOME and names, as the service resolves `~`; anyone else, itself with its environment.
 */
function stateSide(config: Config, env: NodeJS.ProcessEnv): { as: AccountInfo | undefined; env: NodeJS.ProcessEnv } {
  const account = config.serviceUser === null ? undefined : lookupAccount(config.serviceUser);
  if (!actsAsRootFor(account)) return { as: undefined, env };
  return { as: account, env: { ...env, HOME: account.home, USER: account.name, LOGNAME: account.name } };
}

/**
 * A system unit's `User=` is the account its service runs as: learned from the unit when no --service-user is given,
 * so releases are made readable by it (store/releases-dir.ts). A unit without one runs as root.
 */
async function withServiceUser(config: Config, env: NodeJS.ProcessEnv): Promise<Config> {
  if (config.serviceUser !== null || config.supervisor !== 'systemd-system' || !config.unit) return config;
  const shown = await systemctl(['show', config.unit, '--property=User', '--value'], { scope: 'system', env });
  const user = shown.exitCode === 0 ? shown.output.trim() : '';
  return user && user !== 'root' ? { ...config, serviceUser: user } : config;
}
