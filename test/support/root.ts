// Looking at a root from the outside: links, staging, state, sealed bits.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function linkOf(root: string, name: 'current' | 'previous'): string | null {
  try {
    return readlinkSync(join(root, name));
  } catch {
    return null;
  }
}

/** `current` exists, is a symlink, and resolves to a complete release directory. */
export function currentIsValid(root: string): boolean {
  const link = join(root, 'current');
  if (!existsSync(link)) return !lstatSafe(link); // never activated: no link at all is fine
  return lstatSync(link).isSymbolicLink() && existsSync(join(link, '.release-switcher.json'));
}

function lstatSafe(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

export function stagingEntries(root: string): string[] {
  try {
    return readdirSync(join(root, 'staging'));
  } catch {
    return [];
  }
}

export function releaseDirs(root: string): string[] {
  try {
    return readdirSync(join(root, 'releases')).sort();
  } catch {
    return [];
  }
}

export function readState(root: string): any {
  return JSON.parse(readFileSync(join(root, 'state.json'), 'utf8'));
}

/** Paths below `dir` that still have a write bit. */
export function writablePaths(dir: string): string[] {
  const out: string[] = [];
  const visit = (p: string) => {
    const s = lstatSync(p);
    if (s.isSymbolicLink()) return;
    if (s.mode & 0o222) out.push(p);
    if (s.isDirectory()) for (const name of readdirSync(p)) visit(join(p, name));
  };
  visit(dir);
  return out;
}

export function inode(p: string): number {
  return statSync(p).ino;
}

/**
 * A copy of a root for one test, with modes, links and hardlinks kept (`cp -a`; Node's cpSync does not
 * keep the modes of read-only directories on every version, which would look like tampering).
 */
export function copyRoot(from: string, to: string): string {
  execFileSync('cp', ['-a', from, to]);
  // cp does not copy the immutable attribute (a flag, not an xattr): set it again where install had (its marker says
  // so; a release a normal account installed has none).
  for (const version of releaseDirs(to)) {
    const marker = join(to, 'releases', version, '.release-switcher.json');
    if (existsSync(marker) && JSON.parse(readFileSync(marker, 'utf8')).immutable === true)
      spawnSync('chattr', ['-R', '-f', '+i', join(to, 'releases', version)], { stdio: 'ignore' });
  }
  return to;
}

/**
 * Clear the immutable attribute on these paths, as an attacker with root would before tampering with a
 * sealed release (src/platform/immutable.ts). Quiet where it is not set or not supported.
 */
export function unfreeze(...paths: string[]): void {
  execFileSync('chattr', ['-f', '-i', ...paths], { stdio: 'ignore' });
}

/**
 * Every path of a tree (no hidden lockfile, no release marker) with its sealed mode (write bits aside) and content, or
 * its target: what a staged release is compared by with npm's tree of the same spec.
 */
export function treeOf(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    if (p === '.release-switcher.json' || p === 'node_modules/.package-lock.json') continue;
    const abs = join(dir, p);
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) out[p] = `-> ${readlinkSync(abs)}`;
    else if (st.isDirectory()) Object.assign(out, { [p]: 'dir' }, treeOf(dir, p));
    else out[p] = `${(st.mode & 0o555).toString(8)} ${createHash('sha256').update(readFileSync(abs)).digest('hex')}`;
  }
  return out;
}
