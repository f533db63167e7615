/**
 * One lock per root around every mutation (proper-lockfile: an atomic mkdir whose mtime the holder
 * refreshes). A lock whose holder was killed is taken over when its mtime is older than
 * LOCK_STALE_MS, or at once when the owner record names a process on this host that is gone.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import lockfile from 'proper-lockfile';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { readJsonIfExists, writeFileAtomic } from '../platform/fs.js';
import { layoutOf } from './layout.js';

/** A lock not refreshed for this long belongs to a dead or frozen process and is taken over. */
export const LOCK_STALE_MS = 10_000;
/** How often the holder refreshes it. */
export const LOCK_UPDATE_MS = 2_000;
const WAIT_POLL_MS = 100;

export interface LockOwner {
  pid: number;
  hostname: string;
  command: string;
  since: string;
}

export interface LockOptions {
  /** What the holder is doing, shown to whoever finds the root busy. */
  command: string;
  /** Seconds to wait for a busy lock before giving up with BUSY. @default 0 */
  waitSeconds?: number;
}

export async function withLock<T>(root: string, options: LockOptions, action: () => Promise<T>): Promise<T> {
  const layout = layoutOf(root);
  const release = await acquire(root, options);
  const owner: LockOwner = { pid: process.pid, hostname: os.hostname(), command: options.command, since: new Date().toISOString() };
  await writeFileAtomic(layout.lockOwner, `${JSON.stringify(owner)}\n`);
  try {
    return await action();
  } finally {
    await fs.rm(layout.lockOwner, { force: true });
    await release().catch(() => undefined);
  }
}

async function acquire(root: string, options: LockOptions): Promise<() => Promise<void>> {
  const layout = layoutOf(root);
  const deadline = Date.now() + (options.waitSeconds ?? 0) * 1000;
  for (;;) {
    try {
      return await lockfile.lock(layout.root, {
        lockfilePath: layout.lock,
        realpath: false,
        stale: LOCK_STALE_MS,
        update: LOCK_UPDATE_MS,
        // A compromised lock (we could not refresh it in time) is reported by the next commit's
        // own checks; throwing from a timer here would crash mid-transaction instead.
        onCompromised: () => undefined,
      });
    } catch (error) {
      if (errnoOf(error) !== 'ELOCKED') throw error;
      if (await takeOverIfOwnerIsDead(root)) continue;
      if (Date.now() >= deadline) throw await busyError(root);
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
    }
  }
}

export async function readLockOwner(root: string): Promise<LockOwner | undefined> {
  try {
    return (await readJsonIfExists(layoutOf(root).lockOwner)) as LockOwner | undefined;
  } catch {
    return undefined; // a half-written owner record says nothing
  }
}

/** Whether a process of this host exists (EPERM: it does, owned by someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}

/**
 * The lock directory and the owner record are two files, so there is a window where the record is
 * from an earlier holder. We only take over when the record's pid is dead and the record is newer
 * than the lock directory itself, i.e. it was written by the holder of this very lock.
 */
async function takeOverIfOwnerIsDead(root: string): Promise<boolean> {
  const layout = layoutOf(root);
  const owner = await readLockOwner(root);
  if (!owner || owner.hostname !== os.hostname() || isAlive(owner.pid)) return false;
  const [lockStat, ownerStat] = await Promise.all([
    fs.stat(layout.lock).catch(() => undefined),
    fs.stat(layout.lockOwner).catch(() => undefined),
  ]);
  if (!lockStat || !ownerStat || ownerStat.mtimeMs + 1 < lockStat.birthtimeMs) return false;
  await fs.rm(layout.lockOwner, { force: true });
  await fs.rmdir(layout.lock).catch(() => undefined);
  return true;
}

async function busyError(root: string): Promise<ReleaseSwitcherError> {
  const owner = await readLockOwner(root);
  const who = owner ? ` (pid ${owner.pid} on ${owner.hostname}: ${owner.command}, since ${owner.since})` : '';
  return new ReleaseSwitcherError('BUSY', `Another release-switcher operation holds the lock on ${root}${who}.`, {
    hint: `Wait for it, or pass --wait SECONDS. A lock whose holder died is taken over after ${LOCK_STALE_MS / 1000} s.`,
    details: owner ? { owner } : undefined,
  });
}
