/**
 * Filling a checkpoint's `data/` folder: each resolved state path copied with the residue, independent
 * and SQLite rules, sharing unchanged files with the previous checkpoint (reconcile.ts), either in one go
 * (the boot-check in the stop window, with nothing staged) or as a bulk copy staged while the service
 * still serves, reconciled in the stop window.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { copyDatabaseFile, copyFileDurably, copyTree } from './copy.js';
import { reconcileTree, shareWith } from './reconcile.js';
import { ResidueFilter } from './residue.js';
import { isSqliteFile } from './state-paths.js';

export interface CapturedEntry {
  path: string;
  type: 'file' | 'dir' | 'absent';
  size?: number;
  stored?: string;
  companions?: Array<{ suffix: string; present: boolean; size?: number }>;
}

export interface CaptureRules {
  residue: ResidueFilter;
  node: string | undefined;
  skip: ReadonlySet<string>;
  /** The same path's copy in the previous checkpoint and when that copy began: unchanged files are linked to it. */
  earlier?: { dir: string; since: number } | undefined;
}

const realOrNone = (p: string) =>
  fs.realpath(p).catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return undefined;
    throw error;
  });

/** Copy the state path `source` to `to` whole. */
export async function captureEntry(source: string, to: string, rules: CaptureRules): Promise<CapturedEntry> {
  const stored = path.basename(path.dirname(to)) === 'data' ? `data/${path.basename(to)}` : to;
  const real = await realOrNone(source);
  if (!real) return { path: source, type: 'absent' };
  const stat = await fs.stat(real);
  if (stat.isDirectory()) {
    const reuse = rules.earlier && shareWith(rules.earlier.dir, rules.earlier.since);
    const size = await copyTree(real, to, {
      residue: rules.residue,
      sqliteNode: rules.node,
      skip: rules.skip,
      ...(reuse && { reuse }),
    });
    return { path: source, type: 'dir', size, stored };
  }
  if (!stat.isFile())
    throw new ReleaseSwitcherError('INVALID_CONFIG', `The state path ${source} is neither a file nor a directory.`, {
      hint: 'Name files or folders: release-switcher init --state-path PATH',
    });
  if (!(await isSqliteFile(real))) return { path: source, type: 'file', size: await copyFileDurably(real, to), stored };
  const { size, companions } = await copyDatabaseFile(real, to, rules.node);
  return { path: source, type: 'file', size, stored, companions };
}

/**
 * Bring the bulk copy at `to` (staged from `source` when the copy began, `since`) up to the live state
 * now. A folder is reconciled file by file; a single file (a config, a database) is simply copied again.
 */
export async function reconcileEntry(
  source: string,
  to: string,
  rules: CaptureRules & { since: number },
): Promise<CapturedEntry> {
  const real = await realOrNone(source);
  const have = await fs.lstat(to).catch(() => undefined);
  const stat = real ? await fs.stat(real) : undefined;
  if (real && stat?.isDirectory() && have?.isDirectory()) {
    const { size } = await reconcileTree(real, to, {
      residue: rules.residue,
      skip: rules.skip,
      since: rules.since,
      sqliteNode: rules.node,
    });
    return { path: source, type: 'dir', size, stored: `data/${path.basename(to)}` };
  }
  if (have) await fs.rm(to, { recursive: true, force: true });
  for (const suffix of ['-wal', '-shm', '-journal']) await fs.rm(to + suffix, { force: true });
  return captureEntry(source, to, rules);
}

/** What the live state is copied with: plain data, so a worker running as the state's account can take it. */
export interface CaptureRequest {
  /** The resolved state paths, in the manifest's order. */
  paths: string[];
  residue: string[];
  skip: string[];
  /** The Node that copies databases consolidated; absent: with their companions (the service is stopped then). */
  node?: string | undefined;
  /** Set: `dataDir` holds a bulk copy staged when the copy began at this ctime; only what changed since is copied. */
  since?: number | undefined;
  /** For each path, its copy in the previous checkpoint, to share unchanged files with. */
  earlier: Array<{ dir: string; since: number } | null>;
}

/** Each state path copied into `dataDir/<i>` (or the staged copy there reconciled); the manifest's entries. */
export async function captureAll(dataDir: string, request: CaptureRequest): Promise<CapturedEntry[]> {
  const rules = {
    residue: new ResidueFilter({ patterns: request.residue }),
    node: request.node,
    skip: new Set(request.skip),
  };
  const entries: CapturedEntry[] = [];
  for (const [i, source] of request.paths.entries()) {
    const to = path.join(dataDir, String(i));
    const at = { ...rules, earlier: request.earlier[i] ?? undefined };
    const entry =
      request.since === undefined
        ? await captureEntry(source, to, at)
        : await reconcileEntry(source, to, { ...at, since: request.since });
    entries.push(entry.type === 'absent' ? entry : { ...entry, stored: `data/${i}` });
  }
  return entries;
}
