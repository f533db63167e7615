/**
 * The immutable attribute (FS_IMMUTABLE_FL, `chattr +i`): a sealed release that not even root can
 * write, rename, link to or delete until the attribute is cleared (as systemd-sysupdate's ReadOnly=
 * and OSTree do). Needs CAP_LINUX_IMMUTABLE and a filesystem that has it (ext4, xfs, btrfs); set
 * through the `chattr` binary, on explicit lists (chattr -R fails on symlinks, which carry no flags).
 * Measured: about 0.3 s per 10 000 files, each way.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ReleaseSwitcherError } from '../model/errors.js';
import { runCaptured, tail } from './subprocess.js';
import { mapLimit, walkTree } from './tree.js';

/**
 * chattr and lsattr are system binaries: a fixed PATH, not the caller's environment. Their output is only
 * captured: Node's own spawn (runCaptured), not execa, whose load and per-call cost outweigh a chattr.
 */
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
/**
 * A chattr's argument list, in bytes (each path, its NUL and its pointer): well under the kernel's
 * ARG_MAX (2 MiB with the default 8 MiB stack, the environment included). Few and large batches: each
 * process is a fork of ours, whose cost grows with our heap (measured during a staging: ~8 ms of our
 * thread per chattr, 72 of them for an openclaw update with batches of 1,000 paths).
 */
const ARGV_BUDGET = 512 * 1024;
const CONCURRENT_BATCHES = 2;
/** Below this many paths a second process costs more than it saves. */
const SPLIT_ABOVE = 2000;
const TIMEOUT_MS = 5 * 60_000;

export type ImmutableSupport = { supported: true } | { supported: false; reason: string };

/**
 * Filesystems (st_dev) on which this process has set the attribute: whether it can there is known, and
 * the probe answers without two more chattr processes (a staging has set it on the release it links
 * from long before it is sealed; staging/ and releases/ are one filesystem, the rename between them needs it).
 */
const proven = new Set<number>();

/**
 * `paths` cut into argument lists within ARGV_BUDGET, in order; into at least `parallel` of them of
 * about equal size when there are more than SPLIT_ABOVE, so that that many processes share the work.
 */
export function argvBatches(paths: readonly string[], parallel = 1): string[][] {
  const sizeOf = (p: string) => Buffer.byteLength(p) + 1 + 8;
  const total = paths.reduce((sum, p) => sum + sizeOf(p), 0);
  const wanted = paths.length > SPLIT_ABOVE ? Math.max(parallel, Math.ceil(total / ARGV_BUDGET)) : 1;
  const target = Math.ceil(total / wanted);
  const batches: string[][] = [];
  let batch: string[] = [];
  let bytes = 0;
  for (const p of paths) {
    const size = sizeOf(p);
    // The last of the `wanted` lists takes the rounding's remainder; none ever passes the budget.
    const full = bytes + size > ARGV_BUDGET || (bytes + size > target && batches.length < wanted - 1);
    if (batch.length > 0 && full) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(p);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

async function chattr(flag: '+i' | '-i', paths: readonly string[]): Promise<string | undefined> {
  const batches = argvBatches(paths, CONCURRENT_BATCHES);
  let failed: string | undefined;
  // Two at a time: a chattr waits on the kernel as much as it computes (ext4 writes a file's dirty
  // pages back before it takes the flag). Once one fails, no further batch starts.
  await mapLimit(batches, CONCURRENT_BATCHES, async (batch) => {
    if (failed !== undefined) return;
    const result = await runCaptured('chattr', [flag, '--', ...batch], { env: ENV, timeoutMs: TIMEOUT_MS }).catch(
      (error: Error) => ({ exitCode: 1, output: error.message }),
    );
    if (result.exitCode !== 0) failed ??= tail(result.output, 3) || `chattr ${flag} failed`;
  });
  if (failed !== undefined) return failed;
  if (flag === '+i' && paths.length > 0) {
    const dev = await fs.lstat(paths[0]!).then(
      (stat) => stat.dev,
      () => undefined,
    );
    if (dev !== undefined) proven.add(dev);
  }
  return undefined;
}

/** Every file and directory of a tree, the tree itself last (symlinks have no flags). */
async function flaggable(dir: string): Promise<string[]> {
  const entries = await walkTree(dir);
  return [...entries.filter((e) => e.dirent.isFile() || e.dirent.isDirectory()).map((e) => e.abs), dir];
}

/** Whether files in `dir` can be made immutable by this process; the reason when not. */
export async function probeImmutable(dir: string): Promise<ImmutableSupport> {
  if (proven.has((await fs.stat(dir)).dev)) return { supported: true };
  const probe = path.join(dir, `.immutable-probe-${randomBytes(4).toString('hex')}`);
  await fs.writeFile(probe, '');
  try {
    const failed = await chattr('+i', [probe]);
    if (failed) return { supported: false, reason: failed };
    await chattr('-i', [probe]);
    return { supported: true };
  } finally {
    await fs.rm(probe, { force: true }).catch(() => undefined);
  }
}

/**
 * Set the attribute on every file and directory of `dir`; the error text when it could not.
 * `already`: paths (relative to `dir`) known to carry it (inodes shared with an immutable release):
 * left alone, so their ctime does not move again. `listed`: the tree's entries (relative, as a
 * release's manifest lists them), so that it is not walked again; an entry on disk it does not list
 * is left without the attribute (and fails verify-release as a stray entry).
 */
export async function setImmutable(
  dir: string,
  already: ReadonlySet<string> = new Set(),
  listed?: readonly { path: string; type: string }[],
): Promise<string | undefined> {
  const prefix = dir + path.sep;
  const paths = listed
    ? [
        ...listed.filter((e) => e.type === 'file' || e.type === 'dir').map((e) => path.join(dir, ...e.path.split('/'))),
        dir,
      ]
    : await flaggable(dir);
  await flushTree(dir);
  return chattr(
    '+i',
    already.size === 0
      ? paths
      : paths.filter((p) => !already.has(p.startsWith(prefix) ? p.slice(prefix.length).split(path.sep).join('/') : p)),
  );
}

/**
 * Write the tree's dirty pages out in one go first: ext4 writes back each file's dirty pages before
 * it lets the attribute be set, one file at a time, and a freshly staged release is hundreds of MB
 * of them. Measured on openclaw's dist/ (10 822 files, 297 MB just written): chattr +i 5.1 s; sync -f
 * 0.5 s, then chattr +i 0.9 s. Best effort: without it, chattr does the same work, slower.
 */
async function flushTree(dir: string): Promise<void> {
  await runCaptured('sync', ['-f', '--', dir], { env: ENV, timeoutMs: TIMEOUT_MS }).catch(() => undefined);
}

/** Set or clear it on these files only (dedupe: the earlier release's inodes it links to). */
export async function setImmutablePaths(paths: readonly string[], on: boolean): Promise<string | undefined> {
  return paths.length === 0 ? undefined : chattr(on ? '+i' : '-i', paths);
}

/** The lifting windows of this process, one after the other (withImmutableCleared). */
let lifting: Promise<unknown> = Promise.resolve();

/**
 * Clear it on these files, run `fn` (which links to them), set it again. Setting it again must work:
 * a new release that shares these inodes is sealed without setting it on them a second time
 * (sealImmutable's `already`), so a failure is an error, reported after `fn`'s own if it failed.
 * One window at a time in this process: two that lift the same inode side by side (a staging links the
 * main package's files and its dependencies' at once, and a file may be in both) would have one set it
 * again while the other still links to it. `fn` must not open a window of its own.
 */
export function withImmutableCleared<T>(paths: readonly string[], fn: () => Promise<T>): Promise<T> {
  if (paths.length === 0) return fn();
  const run = lifting.then(() => liftedFor(paths, fn));
  lifting = run.catch(() => undefined);
  return run;
}

async function liftedFor<T>(paths: readonly string[], fn: () => Promise<T>): Promise<T> {
  await setImmutablePaths(paths, false);
  let result: T;
  try {
    result = await fn();
  } catch (error) {
    await setImmutablePaths(paths, true);
    throw error;
  }
  const failed = await setImmutablePaths(paths, true);
  if (failed) {
    throw new ReleaseSwitcherError(
      'INTERNAL',
      `The immutable attribute could not be set again on ${paths.length} file(s) of an earlier release: ${failed}.`,
      {
        hint: 'Check the filesystem (lsattr); release-switcher doctor sets it again on the releases that should have it.',
      },
    );
  }
  return result;
}

/**
 * Clear it on a whole tree before removing it. Quiet where it was never set or cannot be. True when
 * some of its files have other names (hardlinks into releases): those inodes lost the attribute too,
 * and the caller sets it again on the releases that keep them (store/immutable-release.ts).
 */
export async function clearImmutable(dir: string): Promise<boolean> {
  const stat = await fs.lstat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) return false;
  // Nothing else deletes in it meanwhile: removeTree's first attempt has settled (platform/fs.ts).
  const paths = await flaggable(dir);
  await chattr('-i', paths);
  const links = await Promise.all(
    paths.map((p) =>
      fs.lstat(p).then(
        (s) => s.isFile() && s.nlink > 1,
        () => false,
      ),
    ),
  );
  return links.some(Boolean);
}

/** Files and directories of `dir` without the attribute (empty when it is whole). */
export async function mutableEntries(dir: string): Promise<string[]> {
  const paths = await flaggable(dir);
  const mutable: string[] = [];
  for (const batch of argvBatches(paths)) {
    const result = await runCaptured('lsattr', ['-d', '--', ...batch], { env: ENV, timeoutMs: TIMEOUT_MS });
    const flagged = new Set(
      result.output
        .split('\n')
        .filter((line) => /^\S+ /.test(line) && line.split(' ', 1)[0]!.includes('i'))
        .map((line) => line.slice(line.indexOf(' ') + 1)),
    );
    mutable.push(...batch.filter((p) => !flagged.has(p)));
  }
  return mutable.map((p) => path.relative(dir, p) || '.');
}
