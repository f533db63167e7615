/**
 * Every symlink of a release must lead somewhere inside it. A lexical check of each link alone is not
 * enough: `a -> ../../..` and `b -> a/../..` are each inside, yet `b/etc` is /etc. So each link is
 * resolved the way the kernel would, component by component, following links through the tree.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';

/** As the kernel's MAXSYMLINKS: more hops than this is a loop. */
const MAX_HOPS = 40;

type Verdict = { inside: true } | { inside: false; why: string };

/** Resolve `rel` (relative to `root`) through the tree; outside when it ever climbs above `root`. */
export async function resolvesInside(root: string, rel: string): Promise<Verdict> {
  const resolved: string[] = [];
  let pending = rel.split('/');
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (resolved.length === 0) return { inside: false, why: 'climbs above the release' };
      resolved.pop();
      continue;
    }
    const abs = path.join(root, ...resolved, part);
    const stat = await fs.lstat(abs).catch((error: unknown) => {
      // A name that does not exist (or a file used as a directory) ends the lookup: nothing beyond it is reachable.
      if (['ENOENT', 'ENOTDIR'].includes(errnoOf(error) ?? '')) return undefined;
      throw error;
    });
    if (!stat) return { inside: true };
    if (!stat.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    if (++hops > MAX_HOPS) return { inside: false, why: 'a symlink loop' };
    const target = await fs.readlink(abs);
    if (path.posix.isAbsolute(target)) return { inside: false, why: `an absolute target (${target})` };
    pending = [...target.split('/'), ...pending];
  }
  return { inside: true };
}

/** Refuse (RELEASE_UNSAFE) a tree with a symlink that resolves outside it. */
export async function assertLinksContained(root: string, links: readonly string[]): Promise<void> {
  for (const rel of links) {
    const verdict = await resolvesInside(root, rel);
    if (verdict.inside) continue;
    const target = await fs.readlink(path.join(root, rel));
    throw new ReleaseSwitcherError(
      'RELEASE_UNSAFE',
      `${rel} is a symlink to ${target} that resolves outside the release (${verdict.why}).`,
      {
        hint: 'A release must be self-contained; a dependency or lifecycle script made this link. Nothing was installed.',
        details: { path: rel, target },
      },
    );
  }
}
