/**
 * EACCES and EPERM, wherever they come from, as what they are: an account that may not touch a path. The error names
 * the path, the account that lacked the permission, the path's owner and mode (of the nearest part of it that
 * exists), and the fix; never INTERNAL, never a parse error of a file that could not be read.
 */
import { accessSync, constants, lstatSync } from 'node:fs';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf, isReleaseSwitcherError } from '../model/errors.js';
import { accountName, currentAccount } from './accounts.js';

/**
 * The side of a two-path call (symlink, link, rename, copyfile: Node's `path` is the source, `dest` the new name) that
 * was refused: a symlink's target need not even exist, so its new name; otherwise the one whose folder we may not write.
 */
function twoPathSide(error: unknown, source: string): string {
  const dest = (error as { dest?: unknown }).dest;
  if (typeof dest !== 'string') return source;
  if ((error as { syscall?: unknown }).syscall === 'symlink') return dest;
  try {
    accessSync(path.dirname(source), constants.W_OK);
    return dest;
  } catch {
    return source;
  }
}

/**
 * PERMISSION_DENIED for an EACCES/EPERM, or an EROFS (a unit's sandbox: ProtectSystem=, ReadWritePaths=), naming its
 * `path`, else `fallbackPath`; anything else passes through.
 */
export function asPermissionDenied(error: unknown, what: string, fallbackPath?: string): unknown {
  const errno = errnoOf(error);
  if (isReleaseSwitcherError(error) || !['EACCES', 'EPERM', 'EROFS'].includes(errno ?? '')) return error;
  const target = (error as { path?: unknown }).path;
  const file = typeof target === 'string' ? twoPathSide(error, target) : fallbackPath;
  const me = currentAccount();
  const where = file ? ownerOf(file) : undefined;
  const syscall = (error as { syscall?: unknown }).syscall;
  const subject = file ? `${file}${syscall ? ` (${String(syscall)})` : ''}` : 'a path it needs';
  const owned = where ? `; ${where.path} is owned by ${where.owner}, mode ${where.mode}` : '';
  return new ReleaseSwitcherError(
    'PERMISSION_DENIED',
    `Permission denied while ${what}: ${me.name} (uid ${me.uid}) may not ${errno === 'EACCES' ? 'use' : 'change'} ${subject}${owned}.`,
    {
      hint:
        errno === 'EROFS'
          ? `${file ?? 'The path'} is on a read-only file system here: under a sandboxed unit (ProtectSystem=strict, ProtectHome=read-only) add it to the unit's ReadWritePaths= (release-switcher unit --install does for the root), or move the root where the unit may write.`
          : hintFor(me, where),
      cause: error,
      details: {
        errno,
        ...(file ? { path: file } : {}),
        account: me.name,
        uid: me.uid,
        ...(where ? { owner: where.owner, ownerUid: where.uid, mode: where.mode } : {}),
      },
    },
  );
}

function hintFor(me: { name: string; uid: number }, where: OwnerInfo | undefined): string {
  if (!where) return `Run release-switcher as the account that owns the root, or give ${me.name} access to it.`;
  if (where.uid === 0 && me.uid !== 0 && ownedBy(path.dirname(where.path), me.uid))
    // Root's file in a folder of this account's: root acted on the account's root. Running as root again would only
    // leave more; root gives them back instead.
    return `${where.path} is root's, in a folder of ${me.name}'s: root acted on ${me.name}'s root. Give root's files there back: sudo release-switcher --root <the root> doctor --fix, then run release-switcher as ${me.name} again.`;
  // Never hand root's files to another account: what root keeps (a unit folder, a root root acts on) may run as root.
  if (where.uid === 0) return `Run it as root (sudo release-switcher …); ${where.path} is root's.`;
  if (where.uid !== me.uid)
    return `Run it as ${where.owner} (sudo -u ${where.owner} release-switcher …), or give ${me.name} the access: chown -R ${me.name} ${where.path}`;
  return `${where.path} is ${me.name}'s own but lacks the permission (mode ${where.mode}): chmod u+rwX ${where.path}, then release-switcher doctor.`;
}

interface OwnerInfo {
  path: string;
  owner: string;
  uid: number;
  mode: string;
}

function ownedBy(dir: string, uid: number): boolean {
  try {
    return lstatSync(dir).uid === uid;
  } catch {
    return false;
  }
}

/** The owner and mode of `file`, or of its nearest existing parent. */
function ownerOf(file: string): OwnerInfo | undefined {
  for (let at = path.resolve(file); ; at = path.dirname(at)) {
    try {
      const stat = lstatSync(at);
      return {
        path: at,
        owner: accountName(stat.uid) ?? `uid ${stat.uid}`,
        uid: stat.uid,
        mode: (stat.mode & 0o7777).toString(8).padStart(4, '0'),
      };
    } catch {
      if (at === path.dirname(at)) return undefined;
    }
  }
}
