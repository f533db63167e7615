/**
 * A private copy of the service's state for a rehearsal: the candidate may migrate it, break it or
 * write to it freely, and the live state is never opened for writing. A SQLite database is copied as
 * one consolidated file by SQLite itself (sqlite-copy.ts: the copy is made while the service runs); with
 * no Node that has `node:sqlite`, it travels with its `-wal`/`-shm`/`-journal` companions instead.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import { removeTree } from '../platform/fs.js';
import type { Layout } from '../store/layout.js';
import { copyDatabaseFile, copyFileDurably, copyTree } from './copy.js';
import { readSnapshot } from './snapshot.js';
import { ResidueFilter } from './residue.js';
import { sqliteNode } from './sqlite-copy.js';
import { SQLITE_COMPANIONS, isSqliteFile } from './state-paths.js';

/** One state path to copy: where it lives, where its content is read from now, what it is. */
interface Source {
  /** The live path (places the copy under `base`). */
  live: string;
  /** Where to read it: the live path itself, or its copy in a snapshot. */
  from: string;
  isDir: boolean;
  /** SQLite companions (`-wal`…) to copy with it; `undefined`: whichever exist. */
  companions?: readonly string[];
}

/**
 * Copies each of `paths` (absolute, resolved) into `dir`. With exactly one path that is a directory,
 * the copy IS `dir` (so `{state}` stands for that directory); otherwise each path keeps its place
 * under `base` (the folder the configured paths share, see statePathsBase), so the copy is shaped like
 * the live state; a path outside `base` (or with no base) lands under `dir` by its base name. A path
 * that does not exist is simply absent. Returns the `{state}` value.
 */
export async function copyStatePrivately(
  paths: readonly string[],
  dir: string,
  options: PrivateCopyOptions | string | null = null,
): Promise<string> {
  const { base = null, residue = [], sqliteNodes = [process.execPath], skip = new Set<string>() } = optionsOf(options);
  const sources: Source[] = [];
  for (const p of paths) {
    const stat = await fs.stat(p).catch(() => undefined);
    // A socket or FIFO named as a state path is residue too: there is nothing in it to copy.
    if (stat?.isDirectory() || stat?.isFile()) sources.push({ live: p, from: p, isDir: stat.isDirectory() });
  }
  const node = await sqliteNode(sqliteNodes);
  return placePrivately(sources, dir, { base, residue: new ResidueFilter({ patterns: residue }), node, skip });
}

/** Where the copy's paths are placed, and how (a bare string or null: `base` alone, as before). */
export interface PrivateCopyOptions {
  /** The folder the state paths share (statePathsBase). @default null */
  base?: string | null;
  /** The service's residue patterns (config `residue`). @default [] */
  residue?: readonly string[];
  /** Nodes to copy live databases with, the first with `node:sqlite` wins. @default [the running Node] */
  sqliteNodes?: ReadonlyArray<string | null | undefined>;
  /** Absolute paths left out (the resolved independent paths). @default none */
  skip?: ReadonlySet<string>;
}

const optionsOf = (o: PrivateCopyOptions | string | null): PrivateCopyOptions =>
  typeof o === 'string' || o === null ? { base: o } : o;

/**
 * The same private copy, of the state as snapshot `id` holds it: what a release finds once that
 * snapshot is put back (a rollback across a migration rehearses on the state it will really start
 * on, not on the one the newer release migrated). Paths absent then are absent here too.
 */
export async function copySnapshotPrivately(
  layout: Layout,
  id: string,
  dir: string,
  options: PrivateCopyOptions | string | null = null,
): Promise<string> {
  const { base = null, residue = [] } = optionsOf(options);
  const manifest = await readSnapshot(layout, id);
  if (!manifest) {
    throw new ReleaseSwitcherError(
      'STATE_SNAPSHOT_MISSING',
      `There is no complete state snapshot ${id} in ${layout.snapshots} to rehearse on.`,
      {
        hint: 'See release-switcher status for the transaction that took it.',
      },
    );
  }
  const sources: Source[] = manifest.entries
    .filter((entry) => entry.type !== 'absent' && entry.stored)
    .map((entry) => ({
      live: entry.path,
      from: path.join(layout.snapshot(id), entry.stored!),
      isDir: entry.type === 'dir',
      companions: (entry.companions ?? []).filter((c) => c.present).map((c) => c.suffix),
    }));
  // A snapshot's databases are consolidated already (or were taken with their companions): copied as they are.
  return placePrivately(sources, dir, {
    base,
    residue: new ResidueFilter({ patterns: residue }),
    node: undefined,
    skip: new Set(manifest.independent ?? []),
  });
}

async function placePrivately(
  sources: readonly Source[],
  dir: string,
  at: { base: string | null; residue: ResidueFilter; node: string | undefined; skip: ReadonlySet<string> },
): Promise<string> {
  const { base, residue, node } = at;
  // The snapshot's folders are not where the independent paths live: map them into each source.
  const skipIn = (s: Source) =>
    new Set([...at.skip].filter((p) => p.startsWith(s.live + path.sep)).map((p) => s.from + p.slice(s.live.length)));
  const only = sources.length === 1 && sources[0]!.isDir ? sources[0] : undefined;
  if (only) {
    await copyTree(only.from, dir, { residue, sqliteNode: node, skip: skipIn(only) });
    return dir;
  }
  await fs.mkdir(dir, { mode: 0o700 });
  for (const source of sources) {
    const rel = base === null ? '' : path.relative(base, source.live);
    const target = path.join(
      dir,
      rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.basename(source.live),
    );
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    if (source.isDir) {
      await copyTree(source.from, target, { residue, sqliteNode: node, skip: skipIn(source) });
      continue;
    }
    if (!source.companions && (await isSqliteFile(source.from))) {
      await copyDatabaseFile(source.from, target, node);
      continue;
    }
    await copyFileDurably(source.from, target);
    for (const suffix of source.companions ?? SQLITE_COMPANIONS) {
      await copyFileDurably(source.from + suffix, target + suffix).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT' || source.companions) throw e;
      });
    }
  }
  return dir;
}

export async function removePrivateCopy(dir: string): Promise<void> {
  await removeTree(dir);
}
