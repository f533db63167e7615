/**
 * Where everything lives inside a root. Nothing else in the code base knows a path string
 * (see layout/README.md for the documented tree).
 */
import path from 'node:path';
// The one function, not the whole of semver (its ranges and classes): layout is loaded by every command.
import semverValid from 'semver/functions/valid.js';
import { ReleaseSwitcherError } from '../model/errors.js';

/** Bumped when the on-disk layout changes incompatibly. Recorded in config.json and state.json. */
export const LAYOUT_VERSION = 1;

/** The marker file inside a release: its manifest. A release directory without it is not a release. */
export const RELEASE_MARKER = '.release-switcher.json';

export interface Layout {
  readonly root: string;
  readonly config: string;
  /** Credentials of the configured registry URL, kept apart from config.json and readable by the owner only. */
  readonly registryAuth: string;
  readonly state: string;
  readonly releases: string;
  readonly staging: string;
  readonly current: string;
  readonly previous: string;
  /** The lock (a directory made by mkdir, see lock.ts) and its owner record beside it. */
  readonly lock: string;
  readonly lockOwner: string;
  /** The boot-check's count of starts of a pending release. */
  readonly bootTries: string;
  /** The boot-check's record of its last run (store/boot-check-record.ts). */
  readonly bootCheckRecord: string;
  /** While it names a time to come, the unit's ExecCondition skips the manager's own starts (store/restart-hold.ts). */
  readonly restartHold: string;
  /** While present, the auto-updater's ticks do nothing (`timer --pause`; store/auto-update-pause.ts). */
  readonly autoUpdatePause: string;
  /** Output of the runners of scheduled transactions, rotated when one is scheduled (`runner.log.1` … beside it). */
  readonly runnerLog: string;
  /** State snapshots, one folder per transaction: `snapshots/<transaction id>/`. */
  readonly snapshots: string;
  /** Where the stat fingerprint records live: `fingerprints/<version>.json`. */
  readonly fingerprintsDir: string;
  /** Where a symbolic link found in releases/ is moved (never a release): `set-aside/<name>-<time>`. */
  readonly setAside: string;
  /** Rehearsals', the database preflight's, plugin prefetch's and the capability review's folders, one each inside. */
  readonly preflight: string;
  /** A preset's finalize output and the restart handoff's: `finalize/<tx>.json` (`.out`: plain text), `.log`, `.handoff.log`. */
  readonly finalize: string;
  /** The content-addressed store (store/content-store.ts): `store/files/`, `store/index/`. */
  readonly store: string;
  readonly storeFiles: string;
  readonly storeIndex: string;
  release(version: string): string;
  /** Stat fingerprints of a sealed release, kept outside it (see store/fingerprints.ts). */
  fingerprints(version: string): string;
  marker(version: string): string;
  /** Relative symlink target of `current`/`previous` for a version. */
  linkTarget(version: string): string;
  stagingDir(id: string): string;
  /** The state snapshot taken before the target of transaction `id` first started. */
  snapshot(id: string): string;
  /** A store file: `store/files/<first two hex>/<sha256>-<sealed mode, octal>` (one inode per content and mode). */
  storeFile(sha256: string, mode: number): string;
  /** A package's file index in the store, named by the sha256 of its integrity string: `store/index/<xx>/<hex>.json`. */
  storeIndexFile(key: string): string;
}

export function layoutOf(root: string): Layout {
  const abs = path.resolve(root);
  const releases = path.join(abs, 'releases');
  const staging = path.join(abs, 'staging');
  const snapshots = path.join(abs, 'snapshots');
  const fingerprintsDir = path.join(abs, 'fingerprints');
  const store = path.join(abs, 'store');
  const storeFiles = path.join(store, 'files');
  const storeIndex = path.join(store, 'index');
  return {
    root: abs,
    config: path.join(abs, 'config.json'),
    registryAuth: path.join(abs, 'registry-auth.json'),
    state: path.join(abs, 'state.json'),
    releases,
    staging,
    current: path.join(abs, 'current'),
    previous: path.join(abs, 'previous'),
    lock: path.join(abs, '.lock'),
    lockOwner: path.join(abs, '.lock-owner.json'),
    bootTries: path.join(abs, 'boot-tries.json'),
    bootCheckRecord: path.join(abs, 'boot-check.json'),
    restartHold: path.join(abs, 'restart-hold'),
    autoUpdatePause: path.join(abs, 'auto-update-paused.json'),
    runnerLog: path.join(abs, 'runner.log'),
    snapshots,
    fingerprintsDir,
    setAside: path.join(abs, 'set-aside'),
    preflight: path.join(abs, 'preflight'),
    finalize: path.join(abs, 'finalize'),
    store,
    storeFiles,
    storeIndex,
    release: (version) => path.join(releases, validVersion(version, 'a release directory')),
    marker: (version) => path.join(releases, validVersion(version, 'a release marker'), RELEASE_MARKER),
    fingerprints: (version) => path.join(fingerprintsDir, `${validVersion(version, 'a fingerprint record')}.json`),
    linkTarget: (version) => path.join('releases', validVersion(version, 'a link target')),
    stagingDir: (id) => path.join(staging, id),
    snapshot: (id) => path.join(snapshots, id),
    storeFile: (sha256, mode) => path.join(storeFiles, hexName(sha256).slice(0, 2), `${sha256}-${mode.toString(8)}`),
    storeIndexFile: (key) => path.join(storeIndex, hexName(key).slice(0, 2), `${key}.json`),
  };
}

/** A sha256 in hex, the only thing that names a store entry. */
function hexName(name: string): string {
  if (/^[0-9a-f]{64}$/.test(name)) return name;
  throw new ReleaseSwitcherError('INTERNAL', `${JSON.stringify(name)} is not a sha256 in hex.`, {
    hint: 'Please report this.',
  });
}

/** The version a `current`/`previous` link target names, or undefined when it is not `releases/<v>`. */
export function versionOfLinkTarget(target: string): string | undefined {
  const parts = target.split(/[\\/]+/).filter(Boolean);
  if (parts.length === 2 && parts[0] === 'releases' && isValidVersion(parts[1])) return parts[1];
  return undefined;
}

/** A version string that is safe to use as a single directory name. */
export function isSafeVersionDirName(version: string): boolean {
  return /^[0-9A-Za-z][0-9A-Za-z.+_-]*$/.test(version) && !version.includes('..');
}

/**
 * The one rule for a version that becomes a path or a record: exactly what semver calls valid
 * (`semver.valid` trims and drops a leading `v` or `=`, so its answer must equal the input) and a safe
 * single directory name.
 */
export function isValidVersion(version: unknown): version is string {
  return typeof version === 'string' && semverValid(version) === version && isSafeVersionDirName(version);
}

/** `version` itself when valid; INVALID_VERSION naming `where` it came from otherwise. */
export function validVersion(version: unknown, where: string): string {
  if (isValidVersion(version)) return version;
  throw new ReleaseSwitcherError(
    'INVALID_VERSION',
    `${where} has the version ${JSON.stringify(version)}, which is not an exact semver version.`,
    {
      hint: 'Only versions semver accepts as they are (no spaces, no leading v, no path characters) are installed. Nothing was written.',
    },
  );
}
