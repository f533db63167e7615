/**
 * One lock per root around every mutation: the directory `.lock`, made with mkdir(2) (atomic), whose
 * mtime the holder refreshes. A lock not refreshed for LOCK_STALE_MS, or whose owner record names a
 * process on this host that is gone, is taken over.
 *
 * Takeover is atomic: a taker first claims that very lock directory with mkdir of a sibling named by
 * its inode and birth time (`.lock.takeover-<id>`): of any number of racers exactly one gets it. Only
 * the claimer may move the directory, and only after checking again, claim in hand, that it is still
 * the same directory and still stale. A holder refreshes first and then looks for a claim on its
 * directory; so either the claimer sees the refresh and backs off, or the holder sees the claim and
 * knows it lost the lock (LOCK_LOST at its next `assertLockHeld`, i.e. before its next journal commit).
 *
 * A claim records who holds it (pid, host). One whose claimer is gone (a dead pid on this host, or older
 * than CLAIM_STALE_MS: a claim is held for a few system calls) is itself taken over by the same protocol
 * one level down: an exclusive claim on that claim directory, named by its identity, then a check again
 * and a rename away. So a taker killed while holding its claim never leaves the root BUSY for good.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { readJsonIfExists, writeFileAtomic } from '../platform/fs.js';
import { isAlive } from '../platform/subprocess.js';
import { type Layout, layoutOf } from './layout.js';
import { type LockOwner, claimIfFree, dirId, dropClaim, takeClaim } from './lock-claim.js';
import { crashPoint } from '../platform/crashpoint.js';
import { YIELD_WAIT_MS, requestYield } from './lock-yield.js';

export type { LockOwner } from './lock-claim.js';

/** A lock not refreshed for this long belongs to a dead or frozen process and is taken over. */
export const LOCK_STALE_MS = 10_000;
/** How often the holder refreshes it. */
export const LOCK_UPDATE_MS = 2_000;
const WAIT_POLL_MS = 100;
export interface LockOptions {
  /** What the holder is doing, shown to whoever finds the root busy. */
  command: string;
  /** Seconds to wait for a busy lock before giving up with BUSY. @default 0 */
  waitSeconds?: number;
  /** An activation of an installed release: a holder that is staging gives way to it (lock-yield.ts). @default false */
  overStaging?: boolean;
}

interface Held {
  layout: Layout;
  id: string;
  lost?: ReleaseSwitcherError;
  timer?: NodeJS.Timeout;
}

/** The locks this process holds, by root: what `assertLockHeld` checks. */
const held = new Map<string, Held>();

export async function withLock<T>(root: string, options: LockOptions, action: () => Promise<T>): Promise<T> {
  const layout = layoutOf(root);
  const handle = await acquire(layout, options);
  held.set(layout.root, handle);
  handle.timer = setInterval(() => void refresh(handle), LOCK_UPDATE_MS).unref();
  const owner: LockOwner = {
    pid: process.pid,
    hostname: os.hostname(),
    command: options.command,
    since: new Date().toISOString(),
  };
  try {
    // Not fsynced: after a power cut its holder is gone anyway, and a lock without an owner record
    // is taken over once its mtime is LOCK_STALE_MS old. Every mutation saves two fsyncs.
    await writeFileAtomic(layout.lockOwner, `${JSON.stringify(owner)}\n`, { durable: false });
    return await action();
  } finally {
    clearInterval(handle.timer);
    held.delete(layout.root);
    if (!handle.lost) await release(handle).catch(() => undefined);
  }
}

/**
 * Throws LOCK_LOST when this process held the lock of `root` and has lost it (it was paused past
 * the stale time and taken over). Call before every durable write: the journal's commit does. A no-op
 * where this process holds no lock of `root` (tests and tools using a journal directly).
 */
export async function assertLockHeld(root: string): Promise<void> {
  const handle = held.get(path.resolve(root));
  if (!handle) return;
  await refresh(handle);
  if (handle.lost) throw handle.lost;
}

/** An identity of one lock directory: a new directory at the same path is another lock. */
function lockId(layout: Layout): Promise<string | undefined> {
  return dirId(layout.lock);
}

const claimOf = (layout: Layout, id: string) => `${layout.lock}.takeover-${id}`;

/** Refresh the mtime first, then check the directory is still ours and unclaimed (see the header). */
async function refresh(handle: Held): Promise<void> {
  if (handle.lost) return;
  const { layout } = handle;
  const now = new Date();
  await fs.utimes(layout.lock, now, now).catch(() => undefined);
  const claimed = await fs.stat(claimOf(layout, handle.id)).then(
    () => true,
    () => false,
  );
  if (!claimed && (await lockId(layout)) === handle.id) return;
  handle.lost = new ReleaseSwitcherError(
    'LOCK_LOST',
    `The lock on ${layout.root} was taken over while this operation held it (it was paused or starved for over ${LOCK_STALE_MS / 1000} s); it stopped before its next write.`,
    {
      hint: 'Another operation now owns the root. Run release-switcher status; release-switcher recover finishes or undoes what this one left.',
    },
  );
}

async function acquire(layout: Layout, options: LockOptions): Promise<Held> {
  let deadline = Date.now() + (options.waitSeconds ?? 0) * 1000;
  let asked = !options.overStaging;
  for (;;) {
    try {
      await fs.mkdir(layout.lock);
      const id = await lockId(layout);
      if (id) return { layout, id };
      continue; // taken over between our mkdir and stat: cannot happen to a fresh lock, but never assume
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
    }
    if (await takeOverIfStale(layout)) continue;
    if (!asked) {
      asked = true;
      if (await requestYield(layout.root, options.command)) deadline = Math.max(deadline, Date.now() + YIELD_WAIT_MS);
    }
    if (Date.now() >= deadline) throw await busyError(layout.root);
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
  }
}

/** Move a stale lock away; true when there is no lock now (try mkdir again). */
async function takeOverIfStale(layout: Layout): Promise<boolean> {
  const id = await lockId(layout);
  if (!id) return true;
  if (!(await isStale(layout))) return false;
  const claim = claimOf(layout, id);
  const claimId = await takeClaim(claim);
  if (!claimId) return false; // another taker has it
  crashPoint('lock:claimed');
  try {
    if ((await lockId(layout)) !== id || !(await isStale(layout))) return false;
    await removeLockDir(layout);
    return true;
  } finally {
    await dropClaim(claim, claimId);
  }
}

/** Rename first (atomic: the lock is gone at once), then delete at leisure. */
async function removeLockDir(layout: Layout): Promise<void> {
  const trash = `${layout.lock}.removed-${process.pid}-${randomBytes(4).toString('hex')}`;
  await fs.rename(layout.lock, trash);
  await fs.rm(trash, { recursive: true, force: true });
}

/** Release by the same protocol as a takeover: claim our own directory, so no taker moves it meanwhile. */
async function release(handle: Held): Promise<void> {
  const { layout, id } = handle;
  const claim = claimOf(layout, id);
  // A live taker's claim means it judged us stale: the directory is its to move. Never wait on it.
  const claimId = await claimIfFree(claim).catch(() => undefined);
  if (!claimId) return;
  crashPoint('lock:release-claimed');
  try {
    if ((await lockId(layout)) !== id) return;
    await fs.rm(layout.lockOwner, { force: true });
    await removeLockDir(layout);
  } finally {
    await dropClaim(claim, claimId);
  }
}

export async function readLockOwner(root: string): Promise<LockOwner | undefined> {
  try {
    return (await readJsonIfExists(layoutOf(root).lockOwner)) as LockOwner | undefined;
  } catch {
    return undefined; // a half-written owner record says nothing
  }
}

/**
 * Not refreshed for LOCK_STALE_MS, or its owner is dead. The lock directory and the owner record are
 * two files, so the record may be an earlier holder's: a dead pid counts only when the record is newer
 * than the lock directory itself, i.e. written by the holder of this very lock.
 */
async function isStale(layout: Layout): Promise<boolean> {
  const [lockStat, ownerStat] = await Promise.all([
    fs.stat(layout.lock).catch(() => undefined),
    fs.stat(layout.lockOwner).catch(() => undefined),
  ]);
  if (!lockStat) return false;
  if (Date.now() - lockStat.mtimeMs > LOCK_STALE_MS) return true;
  const owner = await readLockOwner(layout.root);
  if (!owner || !ownerStat || owner.hostname !== os.hostname() || isAlive(owner.pid)) return false;
  return ownerStat.mtimeMs + 1 >= lockStat.birthtimeMs;
}

async function busyError(root: string): Promise<ReleaseSwitcherError> {
  const owner = await readLockOwner(root);
  const who = owner ? ` (pid ${owner.pid} on ${owner.hostname}: ${owner.command}, since ${owner.since})` : '';
  return new ReleaseSwitcherError('BUSY', `Another release-switcher operation holds the lock on ${root}${who}.`, {
    hint: `Wait for it, or pass --wait SECONDS. A lock whose holder died is taken over after ${LOCK_STALE_MS / 1000} s.`,
    details: owner ? { owner } : undefined,
  });
}
