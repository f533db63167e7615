/**
 * The claims of the lock's takeover protocol (lock.ts explains it): an exclusive mkdir next to the
 * directory being taken over, recording who holds it; a claim whose claimer is gone is itself taken
 * over one level down, by the same protocol.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { errnoOf } from '../model/errors.js';
import { readJsonIfExists } from '../platform/fs.js';
import { isAlive } from '../platform/subprocess.js';

/** A claim older than this belongs to a claimer that died or froze (a live one holds it for milliseconds). */
export const CLAIM_STALE_MS = 30_000;
/** Claims on claims, each taken over only when the one below is stale; deeper than this, wait. */
const MAX_CLAIM_DEPTH = 3;
const CLAIM_OWNER = 'owner.json';

export interface LockOwner {
  pid: number;
  hostname: string;
  command: string;
  since: string;
}

/** An identity of one directory (inode and birth time): a new directory at the same path is another. */
export async function dirId(dir: string): Promise<string | undefined> {
  const stat = await fs.stat(dir, { bigint: true }).catch(() => undefined);
  return stat && `${stat.ino}-${stat.birthtimeNs}`;
}

/**
 * Make the claim directory `claim` (exclusive: mkdir), taking over one whose claimer is gone. Returns
 * the identity of the claim we now hold, or undefined when a live claimer has it.
 */
export async function takeClaim(claim: string, depth = 0): Promise<string | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.mkdir(claim);
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
      if (depth >= MAX_CLAIM_DEPTH || !(await clearStaleClaim(claim, depth))) return undefined;
      continue;
    }
    const id = await dirId(claim);
    if (!id) continue;
    const owner: LockOwner = {
      pid: process.pid,
      hostname: os.hostname(),
      command: 'claim',
      since: new Date().toISOString(),
    };
    await fs.writeFile(path.join(claim, CLAIM_OWNER), `${JSON.stringify(owner)}\n`).catch(() => undefined);
    return id;
  }
  return undefined;
}

/** Make the claim directory only if nobody has it, never taking over another's claim, stale or not. */
export function claimIfFree(claim: string): Promise<string | undefined> {
  return takeClaim(claim, MAX_CLAIM_DEPTH);
}

/** Leave a claim we hold (only that very directory: one judged stale and replaced is another's). */
export async function dropClaim(claim: string, id: string): Promise<void> {
  if ((await dirId(claim)) !== id) return;
  await fs.rm(path.join(claim, CLAIM_OWNER), { force: true }).catch(() => undefined);
  await fs.rmdir(claim).catch(() => undefined);
}

/** A claim whose claimer is gone: a dead pid on this host, or older than CLAIM_STALE_MS. */
async function claimIsStale(claim: string): Promise<boolean> {
  const stat = await fs.stat(claim).catch(() => undefined);
  if (!stat) return false;
  if (Date.now() - stat.birthtimeMs > CLAIM_STALE_MS && Date.now() - stat.mtimeMs > CLAIM_STALE_MS) return true;
  const owner = (await readJsonIfExists(path.join(claim, CLAIM_OWNER)).catch(() => undefined)) as LockOwner | undefined;
  return owner !== undefined && owner.hostname === os.hostname() && !isAlive(owner.pid);
}

/** Move away a stale claim, under a claim on it (named by its identity); true when it is gone. */
async function clearStaleClaim(claim: string, depth: number): Promise<boolean> {
  const id = await dirId(claim);
  if (!id) return true;
  if (!(await claimIsStale(claim))) return false;
  const nested = `${claim}.takeover-${id}`;
  const held = await takeClaim(nested, depth + 1);
  if (!held) return false;
  try {
    if ((await dirId(claim)) !== id || !(await claimIsStale(claim))) return (await dirId(claim)) === undefined;
    const trash = `${claim}.removed-${process.pid}-${randomBytes(4).toString('hex')}`;
    await fs.rename(claim, trash);
    await fs.rm(trash, { recursive: true, force: true });
    return true;
  } finally {
    await dropClaim(nested, held);
  }
}
