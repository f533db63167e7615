/**
 * `current` and `previous`: relative symlinks replaced only by rename(2) of a temp symlink, so at
 * every instant they exist and point at a whole release (`ln -sfn` unlinks first: a window with none).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { fsyncDir, tempName } from '../platform/fs.js';
import { type Layout, versionOfLinkTarget } from './layout.js';

/** Atomically point `linkPath` at `target` (a path relative to the link's directory). */
export async function flipSymlink(linkPath: string, target: string): Promise<void> {
  const tmp = tempName(linkPath);
  await fs.symlink(target, tmp);
  try {
    await fs.rename(tmp, linkPath);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
  await fsyncDir(path.dirname(linkPath));
}

export type LinkName = 'current' | 'previous';

/**
 * The version a link names; null when the link does not exist. Anything else that stands where a
 * link should (a plain directory, a link outside releases/) is an inconsistent root for a human.
 */
export async function readLinkVersion(layout: Layout, name: LinkName): Promise<string | null> {
  const linkPath = layout[name];
  let target: string;
  try {
    target = await fs.readlink(linkPath);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return null;
    if (errnoOf(error) === 'EINVAL') {
      throw new ReleaseSwitcherError('INCONSISTENT_ROOT', `${linkPath} is not a symlink.`, {
        hint: `Move it aside (mv ${linkPath} ${linkPath}.bak); release-switcher only ever manages it as a symlink into releases/.`,
      });
    }
    throw error;
  }
  const version = versionOfLinkTarget(target);
  if (version === undefined) {
    throw new ReleaseSwitcherError('INCONSISTENT_ROOT', `${linkPath} points at ${target}, outside releases/.`, {
      hint: `Point it back with: release-switcher switch VERSION (after moving ${linkPath} aside).`,
    });
  }
  return version;
}

export async function pointLink(layout: Layout, name: LinkName, version: string): Promise<void> {
  await flipSymlink(layout[name], layout.linkTarget(version));
}

export async function removeLink(layout: Layout, name: LinkName): Promise<void> {
  await fs.rm(layout[name], { force: true });
  await fsyncDir(layout.root);
}
