/**
 * Process residue: what a running service leaves in its state that belongs to the process, not to
 * the state. A copy carrying it is harmful: a gateway started on a copy holding the live gateway's lock
 * refuses ("Another gateway (pid N) already owns this state directory"), a restored PID file names a
 * process that may be someone else by then. So no copy (the rehearsal's private copy, a snapshot, a
 * restore) ever carries it, by class:
 * - sockets, FIFOs and devices (nothing to copy: they are endpoints of a process);
 * - PID files and sockets by name (`*.pid`, `*.sock`), for every service;
 * - names a preset or the config declares for its service (openclaw: `/tmp/`, `*.lock`), in gitignore's
 *   syntax, matched by the `ignore` package against paths relative to the copied tree's root: a leading `/`
 *   anchors, a trailing `/` matches folders only, `**` spans folders, `!` re-includes, `\` escapes; everything
 *   under a folder that matches is left out with it (a `!` cannot bring back a file whose folder is excluded,
 *   as in git). Case matters, as in git on Linux;
 * - any small file whose content names a live process on this host (a bare PID in a `*pid*` file, or a
 *   JSON object with a `pid` of a live process): whatever the service calls it, it is ownership.
 */
import type { Dirent } from 'node:fs';
import ignore, { type Ignore } from 'ignore';
import { readRegularFileSync } from '../platform/fs.js';
import { isAlive } from '../platform/subprocess.js';

/** Residue of every service, whatever its preset says. */
export const GENERIC_RESIDUE: readonly string[] = [
  '*.pid',
  '*.sock',
  // A restore's ready copy and the state it moved aside (swap.ts), inside the state folder for a moment.
  '/.release-switcher-ready-*/',
  '/.release-switcher-aside-*/',
];
/** Files up to this size are read to see whether they name a live process (lock and PID files are tiny). */
const OWNER_FILE_MAX = 4096;

export interface ResidueRules {
  /** Patterns in addition to GENERIC_RESIDUE (a preset's, e.g. openclaw's `/tmp/`, `*.lock`). */
  patterns: readonly string[];
}

/** A matcher for entries of a copied tree, by their path relative to its root (`/`-separated). */
export class ResidueFilter {
  // Built once per copy: the rules are compiled here, and `ignore` caches each folder's verdict, so a state dir of
  // many thousands of files costs one lookup per entry.
  private readonly byName: Ignore;

  constructor(rules: ResidueRules = { patterns: [] }) {
    this.byName = ignore({ ignorecase: false }).add([...GENERIC_RESIDUE, ...rules.patterns]);
  }

  /** Whether the entry at `rel` (relative to the tree root) is residue by its type or its name. */
  matches(rel: string, entry: Pick<Dirent, 'isDirectory' | 'isFile' | 'isSymbolicLink'>): boolean {
    if (!entry.isDirectory() && !entry.isFile() && !entry.isSymbolicLink()) return true; // socket, FIFO, device
    // `ignore` tells a folder by its trailing `/` (what a pattern ending in `/` matches).
    return this.byName.ignores(entry.isDirectory() ? `${rel}/` : rel);
  }
}

/** The PID a small file's content names, if it names one: a bare number in a PID-ish file, or JSON's `pid`. */
export function ownerPidOf(name: string, content: string): number | undefined {
  const text = content.trim();
  if (/^\d+$/.test(text)) return /pid|lock/i.test(name) ? Number(text) : undefined;
  if (!text.startsWith('{')) return undefined;
  try {
    const pid = (JSON.parse(text) as { pid?: unknown }).pid;
    return Number.isInteger(pid) ? (pid as number) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the regular file `file` (of `size` bytes) names a live process of this host other than init. Synchronous: a
 * tree copy asks it of every file it copies, and reads at most 4 KiB (copy.ts SYNC_COPY_MAX says why).
 */
export function namesLiveProcessSync(file: string, name: string, size: number): boolean {
  if (size === 0 || size > OWNER_FILE_MAX) return false;
  // Not through a link nor from a FIFO put in its place since it was listed: then it names no process.
  const content = readRegularFileSync(file, OWNER_FILE_MAX)?.toString('utf8') ?? '';
  const pid = ownerPidOf(name, content);
  return pid !== undefined && pid > 1 && isAlive(pid);
}
