/**
 * A private copy's placing (private-copy.ts), with the rights of the state's account: in this process when that is
 * ours, else in its worker (state-side.ts), which then fills the folder root handed it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { copyDatabaseFile, copyFileDurably, copyTree } from './copy.js';
import type { SnapshotManifest } from './manifest.js';
import { ResidueFilter } from './residue.js';
import { sqliteNode } from './sqlite-copy.js';
import { SQLITE_COMPANIONS, isSqliteFile } from './state-paths.js';
import { storedIn } from './swap-account.js';

export /** One state path to copy: where it lives, where its content is read from now, what it is. */
interface Source {
  /** The live path (places the copy under `base`). */
  live: string;
  /** Where to read it: the live path itself, or its copy in a snapshot. */
  from: string;
  isDir: boolean;
  /** SQLite companions (`-wal`…) to copy with it; `undefined`: whichever exist. */
  companions?: readonly string[];
}

/** What a private copy of the live state is made with: plain data, for a worker too. */
export interface LiveCopy {
  paths: string[];
  base: string | null;
  residue: string[];
  sqliteNodes: Array<string | null | undefined>;
  skip: string[];
  into?: boolean | undefined;
}

/** The live paths (files and folders; a socket or FIFO named as a state path is residue) copied into `dir`. */
export async function placeLiveCopy(dir: string, copy: LiveCopy): Promise<string> {
  const sources: Source[] = [];
  for (const p of copy.paths) {
    const stat = await fs.stat(p).catch(() => undefined);
    if (stat?.isDirectory() || stat?.isFile()) sources.push({ live: p, from: p, isDir: stat.isDirectory() });
  }
  const node = await sqliteNode(copy.sqliteNodes);
  const residue = new ResidueFilter({ patterns: copy.residue });
  return placePrivately(sources, dir, { base: copy.base, residue, node, skip: new Set(copy.skip), into: copy.into });
}

/** A checkpoint's copy (its `data/` folder is `dataDir`) placed in `dir` as the live state would be. */
export async function placeSnapshotCopy(
  dataDir: string,
  dir: string,
  copy: { manifest: SnapshotManifest; base: string | null; residue: string[]; into?: boolean | undefined },
): Promise<string> {
  const sources: Source[] = copy.manifest.entries
    .filter((entry) => entry.type !== 'absent' && entry.stored)
    .map((entry) => ({
      live: entry.path,
      from: storedIn(dataDir, entry.stored!),
      isDir: entry.type === 'dir',
      companions: (entry.companions ?? []).filter((c) => c.present).map((c) => c.suffix),
    }));
  // A snapshot's databases are consolidated already (or were taken with their companions): copied as they are.
  return placePrivately(sources, dir, {
    base: copy.base,
    residue: new ResidueFilter({ patterns: copy.residue }),
    node: undefined,
    skip: new Set(copy.manifest.independent ?? []),
    into: copy.into,
  });
}

export async function placePrivately(
  sources: readonly Source[],
  dir: string,
  at: {
    base: string | null;
    residue: ResidueFilter;
    node: string | undefined;
    skip: ReadonlySet<string>;
    /** `dir` is an empty folder already, handed to a worker: filled, not made. */
    into?: boolean | undefined;
  },
): Promise<string> {
  const { base, residue, node } = at;
  // The snapshot's folders are not where the independent paths live: map them into each source.
  const skipIn = (s: Source) =>
    new Set([...at.skip].filter((p) => p.startsWith(s.live + path.sep)).map((p) => s.from + p.slice(s.live.length)));
  const only = sources.length === 1 && sources[0]!.isDir ? sources[0] : undefined;
  if (only) {
    await copyTree(only.from, dir, { residue, sqliteNode: node, skip: skipIn(only), into: at.into });
    return dir;
  }
  if (!at.into) await fs.mkdir(dir, { mode: 0o700 });
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
