/**
 * doctor's check that a root has one owner: an account's root holds no file of root's (left by root acting on it,
 * which locks the account out of its own root: PERMISSION_DENIED at its next command). `doctor --fix`, run by root,
 * gives them back to the account. Root does it without following a link or trusting a path the account could change:
 * from the root folder opened without following links, each entry is reached through its folder's descriptor
 * (/proc/self/fd/N/NAME, the kernel's openat), opened O_NOFOLLOW and changed by descriptor (fchown); a link is changed
 * itself (lchown), never followed. A root of root's is not judged here: its checkpoints keep the service account's
 * files as they were, on purpose.
 */
import { constants, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { accountName, lookupAccount } from '../platform/accounts.js';
import { setImmutablePaths } from '../platform/immutable.js';
import type { PathIdentity } from '../platform/trust-rules.js';
import { judgeRoot, trustError } from '../store/root-trust.js';
import type { CheckResult } from './checks.js';

/** Paths named in a check's detail; the rest are counted. */
const NAMED = 5;

export interface OwnershipVerdict {
  /** Root on an account's root: doctor checks ownership only (its other checks run as the account). */
  forOwner: boolean;
  checks: CheckResult[];
}

/** What root may do on an account's root: look at who owns what, and with `fix` give back what is root's. */
export async function ownershipChecks(root: string, fix: boolean): Promise<OwnershipVerdict> {
  const trust = judgeRoot(root, { purpose: 'repair' });
  const error = trustError(`the root ${trust.root}`, trust.problems);
  if (error) throw error;
  const identity = trust.identity;
  if (!identity) return { forOwner: false, checks: [] }; // no root there: the other checks say so
  const owner = { uid: identity.uid, name: accountName(identity.uid) ?? `uid ${identity.uid}` };
  const me = process.getuid?.() ?? 0;
  const forOwner = me === 0 && owner.uid !== 0;
  if (owner.uid === 0) return { forOwner, checks: [] };
  const checks: CheckResult[] = [];
  if (forOwner)
    checks.push({
      name: 'owner',
      ok: true,
      detail: `${trust.root} is ${owner.name}'s root: root checked only who owns its files; the other checks run as ${owner.name}: sudo -u ${owner.name} release-switcher --root ${trust.root} doctor`,
    });
  const mixed = await oneOwner(trust.root, identity, owner, fix && forOwner);
  // Said when something was found (or root asked): a healthy root's report stays the checks it always had.
  if (forOwner || !mixed.ok) checks.push(mixed);
  return { forOwner, checks };
}

async function oneOwner(
  root: string,
  identity: PathIdentity,
  owner: { uid: number; name: string },
  fix: boolean,
): Promise<CheckResult> {
  const name = 'one-owner';
  const gid = lookupAccount(owner.uid)?.gid ?? owner.uid;
  const found = await walkForeign(root, identity, { uid: owner.uid, gid, fix });
  if (found.foreign.length === 0) return { name, ok: true, detail: `every file under ${root} is ${owner.name}'s` };
  const named = found.foreign.slice(0, NAMED).join(', ');
  const more = found.foreign.length > NAMED ? ` and ${found.foreign.length - NAMED} more` : '';
  const detail = `${found.foreign.length} path(s) under ${root} are not ${owner.name}'s (${named}${more}): ${owner.name} cannot change or remove them. Fix: sudo release-switcher --root ${root} doctor --fix (gives them back to ${owner.name})`;
  if (!fix) return { name, ok: false, detail };
  if (found.left.length === 0)
    return { name, ok: true, detail, fixed: `gave ${found.foreign.length} path(s) back to ${owner.name}` };
  return {
    name,
    ok: false,
    detail,
    fixed: `gave ${found.foreign.length - found.left.length} path(s) back to ${owner.name}; not ${found.left.slice(0, NAMED).join(', ')} (a file with another link, where the kernel lets accounts link to files they do not own: give it back by hand after checking it)`,
  };
}

/** Whether the kernel refuses a hard link to a file its maker does not own (fs.protected_hardlinks). */
function hardlinksProtected(): boolean {
  try {
    return readFileSync('/proc/sys/fs/protected_hardlinks', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

interface Walk {
  /** Paths (as under the root) not owned by the owner. */
  foreign: string[];
  /** Of those, what the fix left alone. */
  left: string[];
}

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;

/** The foreign paths below `root`, each reached through its folder's descriptor; with `fix`, given to `uid:gid`. */
async function walkForeign(
  root: string,
  identity: PathIdentity,
  to: { uid: number; gid: number; fix: boolean },
): Promise<Walk> {
  const walk: Walk = { foreign: [], left: [] };
  const top = await fs.open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    const stat = await top.stat({ bigint: true });
    // The folder opened must be the one judged: not swapped between the judgement and the open.
    if (String(stat.dev) !== identity.dev || String(stat.ino) !== identity.ino) return walk;
    await walkDir(top, root, walk, { ...to, linksSafe: hardlinksProtected() });
  } finally {
    await top.close();
  }
  return walk;
}

type Target = { uid: number; gid: number; fix: boolean; linksSafe?: boolean };

async function walkDir(dir: fs.FileHandle, shown: string, walk: Walk, to: Target): Promise<void> {
  const at = `/proc/self/fd/${dir.fd}`;
  const entries = await fs.readdir(at);
  if (to.fix) {
    // Root's files there may carry the immutable attribute (root seals releases with it); the account never could.
    const mine = [];
    for (const name of entries) {
      const stat = await fs.lstat(`${at}/${name}`).catch(() => undefined);
      if (stat && stat.uid !== to.uid && (stat.isFile() || stat.isDirectory()))
        mine.push(`/proc/${process.pid}/fd/${dir.fd}/${name}`);
    }
    await setImmutablePaths(mine, false).catch(() => undefined);
  }
  for (const name of entries) {
    const entry = `${at}/${name}`;
    const stat = await fs.lstat(entry).catch(() => undefined);
    if (!stat) continue;
    const path = `${shown}/${name}`;
    if (!stat.isDirectory() && !stat.isFile()) {
      if (stat.uid === to.uid) continue;
      walk.foreign.push(path);
      // A link, a socket, a FIFO: changed itself (lchown does not follow the last name; N is our descriptor).
      if (to.fix) await fs.lchown(entry, to.uid, to.gid).catch(() => walk.left.push(path));
      continue;
    }
    if (stat.uid !== to.uid) walk.foreign.push(path);
    if (stat.uid === to.uid && !stat.isDirectory()) continue;
    const flags = stat.isDirectory() ? O_RDONLY | O_DIRECTORY | O_NOFOLLOW : O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
    // Not ours to open (the account looking at root's folder), replaced by a link or gone since the lstat: counted as
    // seen, nothing followed.
    const handle = await fs.open(entry, flags).catch(() => undefined);
    if (!handle) {
      if (to.fix && stat.uid !== to.uid) walk.left.push(path);
      continue;
    }
    try {
      const opened = await handle.stat();
      if (to.fix && opened.uid !== to.uid) {
        if (opened.isDirectory() || opened.nlink === 1 || to.linksSafe) await giveBack(handle, path, walk, to);
        else walk.left.push(path);
      }
      if (opened.isDirectory()) await walkDir(handle, path, walk, to);
    } finally {
      await handle.close();
    }
  }
}

async function giveBack(handle: fs.FileHandle, path: string, walk: Walk, to: Target): Promise<void> {
  await handle.chown(to.uid, to.gid).catch(() => walk.left.push(path));
}
