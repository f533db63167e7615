/**
 * A folder only this account can write, and every folder on the way to it: what a cache whose contents we run
 * (Node's compile cache: V8's code for our modules) must live in. Another account that can create, rename or write
 * any folder on the way can put its own code where we read ours. The rule is OpenSSH's StrictModes: every component
 * owned by us or root and writable by nobody else, except that a sticky folder (/tmp) may be passed through, since
 * no one can rename or remove in it what is ours. Symbolic links on the way are resolved first (`/home` may be
 * one), and every component of the real path is checked with lstat. Synchronous and light: it runs at the CLI's
 * start, before anything else is loaded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { componentProblem } from './trust-rules.js';

/** What lstat tells of one component, the fields the rule reads. */
export interface ComponentStat {
  uid: number;
  mode: number;
  isDirectory: boolean;
  isSymbolicLink: boolean;
}

/**
 * Why a component is not safe for `uid`, or undefined when it is. `last`: the folder itself, which must be ours
 * and writable by us alone; a folder on the way may also be root's, and writable by others when sticky.
 */
export function unsafeComponent(stat: ComponentStat, options: { uid: number; last: boolean }): string | undefined {
  if (stat.isSymbolicLink) return 'is a symbolic link';
  if (!stat.isDirectory) return 'is not a folder';
  // The one rule (trust-rules.ts): the folder itself ours alone, a folder on the way ours or root's; no group is
  // trusted here (its members are not looked up at the CLI's start), so any group write bit refuses.
  const reason = componentProblem(
    {
      kind: 'dir',
      uid: stat.uid,
      mode: stat.mode & 0o7777,
      groupTrusted: false,
      role: options.last ? 'target' : 'parent',
    },
    options.last ? [options.uid] : [options.uid, 0],
  );
  if (reason === 'owner' || reason === 'parent-owner') return `belongs to uid ${stat.uid}`;
  if (reason) return `is writable by ${stat.mode & 0o002 ? 'others' : 'its group'}`;
  return undefined;
}

export type OwnedDir = { ok: true; dir: string } | { ok: false; dir: string; why: string };

function statOf(file: string): ComponentStat {
  const stat = fs.lstatSync(file);
  return { uid: stat.uid, mode: stat.mode, isDirectory: stat.isDirectory(), isSymbolicLink: stat.isSymbolicLink() };
}

/** Every component of `dir`, from the root down: `/a/b` → `/`, `/a`, `/a/b`. */
export function componentsOf(dir: string): string[] {
  const parts: string[] = [];
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    parts.unshift(at);
    if (path.dirname(at) === at) return parts;
  }
}

/**
 * `dir` made (0700, each missing folder on the way too) and checked: it and every folder above it pass
 * `unsafeComponent` for `uid`. With `create: false` a missing folder is not safe. With `create`, the folder itself is
 * made 0700 when it is ours and only readable by others; one writable by others is refused as it is (what it holds
 * may not be ours).
 */
export function ownedDir(dir: string, options: { uid: number; create: boolean }): OwnedDir {
  const wanted = path.resolve(dir);
  const missing: string[] = [];
  let existing = wanted;
  while (!fs.existsSync(existing)) {
    if (!options.create) return { ok: false, dir: wanted, why: `${existing} does not exist` };
    missing.unshift(path.basename(existing));
    existing = path.dirname(existing);
  }
  let real: string;
  try {
    real = fs.realpathSync(existing);
  } catch (error) {
    return { ok: false, dir: wanted, why: `${existing}: ${(error as Error).message}` };
  }
  const components = componentsOf(real);
  let at = real;
  for (const name of missing) {
    at = path.join(at, name);
    components.push(at);
  }
  const last = components.length - 1;
  for (const [index, component] of components.entries()) {
    try {
      // A folder of ours made here: 0700 whatever the umask. EEXIST: someone made it since; it is checked below.
      if (index >= components.length - missing.length) makeDir(component);
      const why = unsafeComponent(statOf(component), { uid: options.uid, last: index === last });
      if (why) return { ok: false, dir: wanted, why: `${component} ${why}` };
    } catch (error) {
      return { ok: false, dir: wanted, why: `${component}: ${(error as Error).message}` };
    }
  }
  const final = components[last]!;
  // Ours to make private; a folder named to us (create: false) keeps the mode its owner gave it.
  if (options.create && (fs.lstatSync(final).mode & 0o777) !== 0o700) fs.chmodSync(final, 0o700);
  return { ok: true, dir: final };
}

function makeDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.chmodSync(dir, 0o700);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}
