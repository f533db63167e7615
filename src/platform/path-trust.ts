/**
 * What trust-rules.ts judges, read from the file system: lstat of every folder from `/` down to a path, of each link
 * met on the way and of the folders its target lies in. Nothing is followed without being looked at first.
 */
import { type Stats, lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { errnoOf } from '../model/errors.js';
import { groupMemberUids } from './accounts.js';
import { type PathFacts, type TrustProblem, trustProblems } from './trust-rules.js';

/** More links than this on one way is a loop (the kernel's own limit is 40). */
const MAX_LINKS = 40;

export interface PathTrust {
  /** Every path on the way, as judged. */
  facts: PathFacts[];
  problems: TrustProblem[];
  /** The path's own lstat after its links (undefined when it does not exist). */
  stat: Stats | undefined;
}

function kindOf(stat: Stats): PathFacts['kind'] {
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isDirectory()) return 'dir';
  return stat.isFile() ? 'file' : 'other';
}

function factsOf(at: string, stat: Stats, role: PathFacts['role'], trusted: readonly number[]): PathFacts {
  const mode = stat.mode & 0o7777;
  // The group's members are looked up only where its write bit is set: the one case they matter.
  const groupTrusted = (mode & 0o020) === 0 || groupMemberUids(stat.gid).every((uid) => trusted.includes(uid));
  return { path: at, kind: kindOf(stat), uid: stat.uid, gid: stat.gid, mode, groupTrusted, role };
}

/**
 * Judge `target` (an absolute path) for an account that trusts the `trusted` uids. A path that does not exist is
 * judged by the folders that do (its `stat` is undefined): what may be created there is as safe as they are.
 */
export function judgePath(target: string, trusted: readonly number[]): PathTrust {
  const facts: PathFacts[] = [];
  let stat: Stats | undefined;
  let way = path.resolve(target);
  let links = 0;
  walk: for (;;) {
    const parts = way.split('/').filter(Boolean);
    let at = '/';
    facts.push(factsOf(at, lstatSync(at), parts.length === 0 ? 'target' : 'parent', trusted));
    for (let i = 0; i < parts.length; i++) {
      const next = path.join(at, parts[i]!);
      const last = i === parts.length - 1;
      let found: Stats;
      try {
        found = lstatSync(next);
      } catch (error) {
        // Not there, or not ours to look into (another account's 0700 folder): judged by what could be seen, since
        // nothing past it can be read by this account either.
        if (['ENOENT', 'ENOTDIR', 'EACCES'].includes(errnoOf(error) ?? '')) break walk;
        throw error;
      }
      facts.push(factsOf(next, found, last ? 'target' : 'parent', trusted));
      if (found.isSymbolicLink() && links++ < MAX_LINKS) {
        way = path.join(path.resolve(at, readlinkSync(next)), ...parts.slice(i + 1));
        continue walk;
      }
      if (last) stat = found;
      at = next;
    }
    break;
  }
  return { facts, problems: trustProblems(facts, trusted), stat };
}
