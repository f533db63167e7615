/**
 * The checks of `doctor`, each small and independent: a name, whether it passed, what was found,
 * and, where repairing is safe, a fix. "Safe" means it cannot change what runs: clearing staging
 * leftovers and stale locks, dropping a dangling `previous`. Anything else gets a hint instead.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Config, readConfig } from '../store/config.js';
import { isReleaseSwitcherError } from '../model/errors.js';
import { pathExists, removeTree } from '../platform/fs.js';
import { readState } from '../store/journal.js';
import { LAYOUT_VERSION, type Layout } from '../store/layout.js';
import { isAlive } from '../platform/subprocess.js';
import { LOCK_STALE_MS, readLockOwner } from '../store/lock.js';
import { readLinkVersion, removeLink } from '../store/links.js';
import { checkReleaseFast, isRealDirectory, listReleaseDirs, readMarker, verifyRelease } from '../store/release.js';
import { notImmutable, restoreImmutable } from '../store/immutable-release.js';
import { setAsideReleaseLinks } from '../store/set-aside.js';
import { orphanedFingerprints, removeOrphanedFingerprints } from '../store/fingerprints.js';
import { dependencyReach, describeUnreached } from '../stage/dependency-reach.js';
import { SAMPLE, checkStore, dropBadFiles } from '../store/store-verify.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  /** What `doctor --fix` did about it. */
  fixed?: string;
  /** Passed with a caveat (`ok` stays true; doctor exits 0): something it could not tell, said in `detail`. */
  warning?: boolean;
}

export interface CheckContext {
  layout: Layout;
  config: Config;
  env: NodeJS.ProcessEnv;
  /** Aborts the subprocesses the checks run (systemctl, loginctl). */
  signal?: AbortSignal | undefined;
  fix: boolean;
  /** Re-hash every file of every release; otherwise only files whose stat fingerprint moved. */
  deep: boolean;
}

type Check = (ctx: CheckContext) => Promise<CheckResult>;

const pass = (name: string, detail: string): CheckResult => ({ name, ok: true, detail });
const fail = (name: string, detail: string, fixed?: string): CheckResult => ({
  name,
  ok: false,
  detail,
  ...(fixed ? { fixed } : {}),
});

const layoutVersion: Check = async ({ layout }) => {
  try {
    await readConfig(layout.root);
    const state = await readState(layout.root);
    return pass(
      'layout',
      `layout version ${LAYOUT_VERSION}; ${Object.keys(state.releases).length} release(s) journaled`,
    );
  } catch (error) {
    return fail('layout', isReleaseSwitcherError(error) ? `${error.code}: ${error.message}` : String(error));
  }
};

const links: Check = async ({ layout, fix }) => {
  const problems: string[] = [];
  let fixed: string | undefined;
  for (const name of ['current', 'previous'] as const) {
    let version: string | null;
    try {
      version = await readLinkVersion(layout, name);
    } catch (error) {
      problems.push(isReleaseSwitcherError(error) ? error.message : String(error));
      continue;
    }
    if (version === null) {
      if (
        name === 'current' &&
        Object.keys((await readState(layout.root).catch(() => ({ releases: {} }))).releases).length > 0
      )
        problems.push('current does not exist');
      continue;
    }
    if (await readMarker(layout, version)) continue;
    if (name === 'previous' && fix) {
      await removeLink(layout, 'previous');
      fixed = `removed previous, which pointed at the missing release ${version}`;
    } else problems.push(`${name} points at releases/${version}, which is not a complete release`);
  }
  return problems.length
    ? fail('links', problems.join('; '))
    : fixed
      ? fail('links', 'previous was dangling', fixed)
      : pass('links', 'current and previous point at complete releases');
};

const manifests: Check = async ({ layout, deep, fix }) => {
  // Only with no lock held: recovery, under the lock, sets links aside the same way.
  const aside = fix && !(await pathExists(layout.lock)) ? await setAsideReleaseLinks(layout) : { moved: [], left: [] };
  const { complete, incomplete } = await listReleaseDirs(layout);
  const problems: string[] = [...aside.left];
  for (const name of incomplete) {
    if (aside.left.some((line) => line.startsWith(`left releases/${name} `))) continue;
    problems.push(
      (await isRealDirectory(layout.release(name)))
        ? `releases/${name}: no valid release marker (not a release)`
        : `releases/${name}: not a directory (a symbolic link or a file is never a release; doctor --fix sets a link aside)`,
    );
  }
  for (const version of complete) {
    const diff = await (deep ? verifyRelease : checkReleaseFast)(layout, version).then(
      () => [],
      (error: unknown) =>
        isReleaseSwitcherError(error) && Array.isArray(error.details?.problems)
          ? (error.details.problems as string[])
          : [String(error)],
    );
    if (diff.length)
      problems.push(`${version}: ${diff.slice(0, 3).join('; ')}${diff.length > 3 ? ` (+${diff.length - 3})` : ''}`);
  }
  const how = deep ? 're-hashed in full' : 'checked by stat fingerprint; doctor --deep re-hashes every file';
  const moved = aside.moved.join('; ');
  if (problems.length) return fail('manifests', [...problems, ...aside.moved].join(' | '));
  if (moved) return fail('manifests', `${aside.moved.length} symbolic link(s) in releases/`, moved);
  return pass('manifests', `${complete.length} release(s) match their manifests (${how})`);
};

/** Releases sealed as immutable must still be, on every file and directory (see platform/immutable.ts). */
const immutable: Check = async ({ layout }) => {
  const { complete } = await listReleaseDirs(layout);
  const missing = await notImmutable(layout, complete);
  const problems = [...missing].map(
    ([version, paths]) =>
      `${version}: ${paths.length} entr${paths.length === 1 ? 'y' : 'ies'} without the immutable attribute (${paths.slice(0, 3).join(', ')})`,
  );
  const sealed = (await Promise.all(complete.map((v) => readMarker(layout, v)))).filter((m) => m?.immutable).length;
  if (problems.length) return fail('immutable', `${problems.join(' | ')}; set it again with chattr +i, or reinstall`);
  return pass(
    'immutable',
    sealed === complete.length
      ? `${sealed} release(s) immutable`
      : `${sealed} of ${complete.length} release(s) immutable (the others were sealed where the attribute was not available)`,
  );
};

/**
 * Every release can load what its code names (dependency-reach.ts): each dependency of each of its packages is inside
 * it. A copy of a pnpm or bun global install is not (its dependencies stayed in their store), however good its
 * manifest. `--deep` asks it of every release, otherwise of current and previous.
 */
const loads: Check = async ({ layout, deep }) => {
  const { complete } = await listReleaseDirs(layout);
  const linked = await Promise.all(
    (['current', 'previous'] as const).map((n) => readLinkVersion(layout, n).catch(() => null)),
  );
  const versions = deep ? complete : complete.filter((v) => linked.includes(v));
  const problems: string[] = [];
  let packages = 0;
  for (const version of versions) {
    const reach = await dependencyReach(layout.release(version));
    packages += reach.packages;
    if (reach.unreached.length > 0)
      problems.push(
        `${version}: ${reach.unreached.length} dependencies cannot be loaded (${describeUnreached(reach.unreached, 3)})`,
      );
  }
  if (problems.length)
    return fail(
      'loads',
      `${problems.join(' | ')}; reinstall the version from the registry (a new root, or prune and install it again)`,
    );
  return pass(
    'loads',
    `${versions.length} release(s) hold every dependency they load (${packages} packages${deep ? '' : '; doctor --deep checks every release'})`,
  );
};

/** Leftovers: whatever is in staging/, and fingerprint records of releases that are gone. */
const staging: Check = async ({ layout, fix }) => {
  const inStaging = await fs.readdir(layout.staging).catch(() => [] as string[]);
  const orphans = await orphanedFingerprints(layout);
  const leftovers = [...inStaging, ...orphans.map((name) => `fingerprints/${name}`)];
  if (leftovers.length === 0) return pass('staging', 'no leftovers');
  const owner = await readLockOwner(layout.root);
  // Only with no lock held: a prune in flight has an orphan record for a moment, by design.
  if (fix && !(await pathExists(layout.lock))) {
    for (const name of inStaging) await removeTree(path.join(layout.staging, name));
    await removeOrphanedFingerprints(layout, orphans);
    return fail('staging', `${leftovers.length} leftover(s): ${leftovers.join(', ')}`, 'removed them');
  }
  const how =
    inStaging.length > 0
      ? 'release-switcher recover removes those in staging/, doctor --fix all of them'
      : 'doctor --fix removes them';
  return fail(
    'staging',
    `${leftovers.length} leftover(s): ${leftovers.join(', ')}${owner ? ` (an operation holds the lock: pid ${owner.pid})` : ''}; ${how}`,
  );
};

const lock: Check = async ({ layout, fix }) => {
  const stat = await fs.stat(layout.lock).catch(() => undefined);
  if (!stat) return pass('lock', 'not held');
  const owner = await readLockOwner(layout.root);
  const alive = owner && owner.hostname === os.hostname() ? isAlive(owner.pid) : undefined;
  const stale = Date.now() - stat.mtimeMs > LOCK_STALE_MS || alive === false;
  if (!stale)
    return pass(
      'lock',
      `held by ${owner ? `pid ${owner.pid} (${owner.command})` : 'a process that has not written its owner record yet'}`,
    );
  if (fix) {
    await fs.rm(layout.lockOwner, { force: true });
    await fs.rmdir(layout.lock).catch(() => undefined);
    return fail('lock', `stale lock${owner ? ` of dead pid ${owner.pid}` : ''}`, 'removed it');
  }
  return fail(
    'lock',
    `stale lock${owner ? ` of dead pid ${owner.pid}` : ''}; the next command takes it over, doctor --fix removes it`,
  );
};

const disk: Check = async ({ layout }) => {
  const current = await readLinkVersion(layout, 'current').catch(() => null);
  const marker = current ? await readMarker(layout, current) : undefined;
  const needed = marker?.size ?? 0;
  const stats = await fs.statfs(layout.root);
  const free = stats.bavail * stats.bsize;
  const mib = (n: number) => `${Math.round(n / 1024 / 1024)} MiB`;
  return free >= needed * 1.2
    ? pass('disk', `${mib(free)} free; the next release needs about ${mib(needed)}`)
    : fail('disk', `${mib(free)} free, the next release needs about ${mib(needed)}: run release-switcher prune`);
};

/**
 * The content-addressed store: each file's content against its name (all of them with --deep, else a
 * sample), every index against its name. A store file that changed is a problem: a release staged from
 * it would be refused at its first activation; remove that file (prune collects what no release links).
 */
const store: Check = async ({ layout, deep, fix }) => {
  const report = await checkStore(layout, { all: deep });
  // Safe to repair: only the store's own names go; what runs (a release) keeps its inode and its verdict.
  const fixed =
    fix && report.bad.length > 0 && !(await pathExists(layout.lock))
      ? await dropBadFiles(report.bad).then(async () => {
          await restoreImmutable(layout, (await listReleaseDirs(layout)).complete);
          return `removed ${report.bad.length} store file(s) that changed from the store (releases that link them keep them and fail their own check)`;
        })
      : undefined;
  if (report.files === 0 && report.indexes === 0) return pass('store', 'empty');
  const how = deep
    ? 'every file re-hashed'
    : `${report.checked} of them re-hashed (a sample of ${SAMPLE}; doctor --deep re-hashes all)`;
  const incomplete =
    report.incomplete > 0
      ? `; ${report.incomplete} index(es) name files no longer stored (unused; prune removes them)`
      : '';
  if (report.problems.length > 0)
    return fail(
      'store',
      `${report.problems.length} problem(s): ${report.problems.slice(0, 3).join('; ')}${report.problems.length > 3 ? ' …' : ''}; doctor --fix takes changed files out of the store (nothing is linked from them then)`,
      fixed,
    );
  return pass('store', `${report.files} file(s), ${report.indexes} package index(es); ${how}${incomplete}`);
};

export const CHECKS: Check[] = [layoutVersion, links, manifests, loads, immutable, staging, lock, disk, store];
