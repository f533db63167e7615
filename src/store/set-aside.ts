/**
 * A symbolic link in releases/ is never a release (release.ts isRealDirectory), however marker-shaped what it leads
 * to: we never make one, and following it would seal, chattr and serve a folder outside the root. Left in place it
 * keeps every listing of releases/ (doctor, prune, recovery) stepping around it, and a human guessing. Recovery and
 * `doctor --fix` move the link itself (one rename, never what it leads to) out of releases/ into
 * `set-aside/<name>-<time>` and say so. One that `current` names is left where it is: moving it would take the
 * running service's folder away on its next start; that root needs a human (doctor's links check says so).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../model/errors.js';
import { fsyncDir, makePrivateDir } from '../platform/fs.js';
import type { Layout } from './layout.js';
import { readLinkVersion } from './links.js';
import { isRealDirectory } from './release.js';

export interface SetAside {
  /** One line per link moved: from where, to what it led, where it is now. */
  moved: string[];
  /** One line per link left in place, and why. */
  left: string[];
}

/** Move every symbolic link out of releases/ (the link, never what it leads to). */
export async function setAsideReleaseLinks(layout: Layout): Promise<SetAside> {
  const result: SetAside = { moved: [], left: [] };
  const links = await releaseLinks(layout);
  if (links.length === 0) return result;
  const current = await readLinkVersion(layout, 'current').catch(() => null);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  for (const name of links) {
    const what = `releases/${name} (a symbolic link to ${await fs.readlink(path.join(layout.releases, name)).catch(() => '?')}, never a release)`;
    if (name === current) {
      result.left.push(`left ${what}: current names it`);
      continue;
    }
    await makePrivateDir(layout.setAside);
    // A set-aside/ that is itself a link would carry the move outside the root.
    if (!(await isRealDirectory(layout.setAside))) {
      result.left.push(`left ${what}: set-aside/ is not a directory of the root`);
      continue;
    }
    const to = path.join(layout.setAside, `${name}-${stamp}`);
    await fs.rename(path.join(layout.releases, name), to);
    result.moved.push(`set aside ${what} as ${path.relative(layout.root, to)}`);
  }
  await fsyncDir(layout.releases).catch(() => undefined);
  return result;
}

async function releaseLinks(layout: Layout): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(layout.releases, { withFileTypes: true });
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return [];
    throw error;
  }
  return entries
    .filter((e) => e.isSymbolicLink())
    .map((e) => e.name)
    .sort();
}
