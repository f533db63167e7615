/**
 * The host's list of roots (`roots.json`): which roots `--all` works on. The one module that reads and writes it.
 * One file per account (`${XDG_STATE_HOME:-~/.local/state}/release-switcher/roots.json`, the roots a normal account
 * inits) and one for the host (`/var/lib/release-switcher/roots.json`, the roots root inits), both readable by
 * everyone (they name folders, never what is in them). Layout: layout/roots.schema.json.
 */
import { realpathSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { writeFileAtomic } from '../platform/fs.js';
import type { PathIdentity } from '../platform/trust-rules.js';
import { withLock } from './lock.js';

export const ROOTS_FILE_VERSION = 1;

/** The host-wide file root writes. `RELEASE_SWITCHER_SYSTEM_ROOTS` (in the `env` given) names another. */
export const SYSTEM_ROOTS_FILE = '/var/lib/release-switcher/roots.json';

export interface RootEntry {
  /** The root's absolute path. */
  root: string;
  /** The package it manages, as `init` last wrote it. */
  package: string;
  /** When `init` first recorded it (ISO-8601). */
  addedAt: string;
  /**
   * The folder that was listed: its device, inode and owner (`init` records it; an entry of an older release-switcher
   * has none until its first trusted use). `--all` runs a root only while it is still this folder.
   */
  identity?: PathIdentity;
}

export interface RootsFile {
  version: typeof ROOTS_FILE_VERSION;
  roots: RootEntry[];
}

/** Where this account's list and the host's list live. */
export interface RootsFiles {
  /** This account's: `${XDG_STATE_HOME:-~/.local/state}/release-switcher/roots.json`. */
  own: string;
  /** The host's: /var/lib/release-switcher/roots.json (`RELEASE_SWITCHER_SYSTEM_ROOTS` in `env` names another). */
  system: string;
}

export function rootsFilesOf(env: NodeJS.ProcessEnv): RootsFiles {
  const stateHome = env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), '.local', 'state');
  return {
    own: path.join(stateHome, 'release-switcher', 'roots.json'),
    system: env.RELEASE_SWITCHER_SYSTEM_ROOTS || SYSTEM_ROOTS_FILE,
  };
}

/** The file `init` records a root in: the host's when root runs it, else the account's own. */
export function rootsFileFor(files: RootsFiles, uid = process.getuid?.()): string {
  return uid === 0 ? files.system : files.own;
}

/** Folders whose content the machine may remove on its own (tmpfiles.d ages them, a reboot may empty them). */
const TEMPORARY = ['/tmp', '/var/tmp', '/dev/shm'];

/**
 * Why `root` is not recorded in `file`, or undefined: the machine's own list (SYSTEM_ROOTS_FILE, not one named by
 * RELEASE_SWITCHER_SYSTEM_ROOTS) never names a root under a temporary folder, which would outlive it there and make
 * every account's `--all` report it gone. An account's own list and a list named on purpose record what they are told.
 */
export function notListedBecause(root: string, file: string, env: NodeJS.ProcessEnv): string | undefined {
  if (file !== SYSTEM_ROOTS_FILE) return undefined;
  const places = new Set([...TEMPORARY, ...[env.TMPDIR, os.tmpdir()].filter((p): p is string => Boolean(p))]);
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  const where = [root, real(root)];
  for (const place of places)
    for (const candidate of [place, real(place)])
      if (where.some((p) => p.startsWith(`${candidate.replace(/\/+$/, '')}/`)))
        return `${root} is under the temporary folder ${place}, which the machine empties on its own: the host's list (${file}) names no such root`;
  return undefined;
}

/** The file's roots; none when it does not exist. Unreadable or malformed: CORRUPT_STATE naming the file. */
export async function readRootsFile(file: string): Promise<RootEntry[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return [];
    throw error;
  }
  const parsed = parse(text);
  if (!parsed)
    throw new ReleaseSwitcherError('CORRUPT_STATE', `${file} is not a list of roots (layout/roots.schema.json).`, {
      hint: `Move it away; release-switcher init on each root records it again.`,
    });
  return parsed.roots;
}

function parse(text: string): RootsFile | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const file = value as Partial<RootsFile> | null;
  if (file?.version !== ROOTS_FILE_VERSION || !Array.isArray(file.roots)) return undefined;
  const entries = file.roots.filter(
    (e): e is RootEntry =>
      typeof e?.root === 'string' &&
      path.isAbsolute(e.root) &&
      typeof e.package === 'string' &&
      typeof e.addedAt === 'string' &&
      (e.identity === undefined || isIdentity(e.identity)),
  );
  return entries.length === file.roots.length ? { version: ROOTS_FILE_VERSION, roots: entries } : undefined;
}

function isIdentity(value: unknown): value is PathIdentity {
  const id = value as Partial<PathIdentity> | null;
  return (
    typeof id?.dev === 'string' &&
    /^\d+$/.test(id.dev) &&
    typeof id.ino === 'string' &&
    /^\d+$/.test(id.ino) &&
    Number.isInteger(id.uid)
  );
}

/**
 * Rewrite the file with `change` applied, under the lock of its folder (two inits at once: neither loses the other's
 * root), by temp file and rename (a reader, who takes no lock, sees the old list or the new one).
 */
async function rewrite(file: string, change: (roots: RootEntry[]) => RootEntry[]): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  await withLock(dir, { command: 'roots', waitSeconds: 30 }, async () => {
    const body: RootsFile = { version: ROOTS_FILE_VERSION, roots: change(await readRootsFile(file)) };
    await writeFileAtomic(file, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o644 });
  });
}

/**
 * Record `entry` (a root already listed keeps its place and `addedAt`; its package is updated, and its identity: an
 * init is its owner saying this folder is the root).
 */
export async function recordRoot(file: string, entry: RootEntry): Promise<void> {
  const update = (r: RootEntry): RootEntry => ({
    ...r,
    package: entry.package,
    ...(entry.identity ? { identity: entry.identity } : {}),
  });
  await rewrite(file, (roots) =>
    roots.some((r) => r.root === entry.root)
      ? roots.map((r) => (r.root === entry.root ? update(r) : r))
      : [...roots, entry],
  );
}

/** Give entries listed without an identity (an older release-switcher's) the one found at their first trusted use. */
export async function recordIdentities(file: string, found: ReadonlyMap<string, PathIdentity>): Promise<void> {
  if (found.size === 0) return;
  await rewrite(file, (roots) =>
    roots.map((r) => (r.identity === undefined && found.has(r.root) ? { ...r, identity: found.get(r.root)! } : r)),
  );
}

/** Remove `roots` from the file; returns those it listed. A file that does not exist is left so. */
export async function forgetRootsIn(file: string, roots: readonly string[]): Promise<string[]> {
  const listed = (await readRootsFile(file)).filter((r) => roots.includes(r.root)).map((r) => r.root);
  if (listed.length === 0) return [];
  await rewrite(file, (entries) => entries.filter((r) => !roots.includes(r.root)));
  return listed;
}
