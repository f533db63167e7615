/**
 * Copying state in and out of a snapshot with everything the service might care about kept: content
 * (a reflink where the filesystem offers one), mode, times and, when running as root, owner. Every
 * file is fsynced, and a restored file appears by rename, whole or not at all.
 */
import {
  type Dirent,
  type Stats,
  closeSync,
  constants,
  copyFileSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  futimesSync,
  lstatSync,
  openSync,
  readSync,
  writeSync,
} from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { crashPoint } from '../platform/crashpoint.js';
import { fsyncDir, removeTree, tempName } from '../platform/fs.js';
import { yieldToLoop } from '../platform/tree.js';
import { ResidueFilter, namesLiveProcessSync } from './residue.js';
import { copyDatabases } from './sqlite-copy.js';
import { SQLITE_COMPANIONS, hasSqliteHeader, looksLikeSqlite } from './state-paths.js';

const asRoot = process.getuid?.() === 0;

/**
 * Mode, times and (as root) owner of `from`, onto `to`. As root through a descriptor opened without following a link
 * (never chmod or chown by path), owner first, and never a setuid or setgid bit on a file that ends up root's.
 */
export async function copyMeta(from: string, to: string): Promise<void> {
  const stat = await fs.lstat(from);
  if (stat.isSymbolicLink()) {
    if (asRoot) await fs.lchown(to, stat.uid, stat.gid);
    return fs.lutimes(to, stat.atime, stat.mtime);
  }
  if (!asRoot) {
    await fs.chmod(to, stat.mode & 0o7777);
    return fs.utimes(to, stat.atime, stat.mtime);
  }
  const handle = await fs.open(to, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    await handle.chown(stat.uid, stat.gid);
    await handle.chmod(metaMode(stat.mode, stat.uid));
    await handle.utimes(stat.atime, stat.mtime);
  } finally {
    await handle.close();
  }
}

/** The mode a copy gets: the source's, without setuid/setgid when the copy is root's (a root shell nobody meant). */
export const metaMode = (mode: number, uid: number) => (uid === 0 ? mode & 0o1777 : mode & 0o7777);

async function syncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Files up to this size are copied with synchronous calls, each step straight after the other on this thread. A state
 * dir is mostly thousands of small files (openclaw's with @openclaw/matrix installed: 4,683 files in 50 MB, its npm
 * project), and each asynchronous step is a hop to libuv's thread pool and back, with a 1 MiB buffer made for each
 * file: that copy took 13.4-13.7 CPU-s and 20 s as root, three times in an update (measured 2026-11-29, load 1). A
 * larger file (a database copied as a file, a sparse file) keeps the asynchronous path, so no copy holds the event loop
 * (a cancel, a deadline) for long.
 */
const SYNC_COPY_MAX = 1 << 20;
/** How long a tree copy may hold the event loop between turns (TreeAt.turn). */
const TURN_EVERY_MS = 50;

/**
 * Copy one file (to a path that must not exist yet) and make it durable; returns its size. A sparse file keeps its
 * holes (a 2 GiB file of holes costs its blocks, not 2 GiB); as root the copy is made 0600 and only given its owner and
 * mode once whole (copyMeta), never created with the source's mode.
 */
export async function copyFileDurably(from: string, to: string): Promise<number> {
  const stat = lstatSync(from);
  if (stat.size <= SYNC_COPY_MAX) return copySmallFileDurably(from, to, stat);
  if (asRoot || isSparse(stat)) await copyContent(from, to);
  else await fs.copyFile(from, to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  await copyMeta(from, to);
  await syncFile(to);
  return (await fs.stat(to)).size;
}

/** copyFileDurably's steps for a small file, synchronously: the same calls, through one descriptor of the copy. */
function copySmallFileDurably(from: string, to: string, stat: Stats): number {
  if (asRoot || isSparse(stat)) copyContentSync(from, to);
  else copyFileSync(from, to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  const after = lstatSync(from); // its mode, owner and times once copied, as copyMeta reads them
  const fd = openSync(to, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (asRoot) {
      fchownSync(fd, after.uid, after.gid); // owner first: a chown clears setuid/setgid, the mode below is final
      fchmodSync(fd, metaMode(after.mode, after.uid));
    } else fchmodSync(fd, after.mode & 0o7777);
    futimesSync(fd, after.atime, after.mtime);
    fsyncSync(fd);
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

/** Whether `stat` has fewer blocks than its size needs: it has holes. */
export const isSparse = (stat: { size: number; blocks: number }) => stat.blocks * 512 < stat.size;

const CHUNK = 1 << 20;
const HOLE = 1 << 16;
const ZEROS = Buffer.alloc(HOLE);
/** copyContentSync's buffer, made once: a synchronous copy never shares it with another. */
let syncChunk: Buffer | undefined;

/** `from`'s bytes into a new file `to` (0600, O_EXCL, no link followed), each all-zero 64 KiB left a hole. */
async function copyContent(from: string, to: string): Promise<void> {
  const source = await fs.open(from, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const target = await fs.open(
      to,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      const buffer = Buffer.alloc(CHUNK);
      let at = 0;
      for (;;) {
        const { bytesRead } = await source.read(buffer, 0, CHUNK, at);
        if (bytesRead === 0) break;
        for (let i = 0; i < bytesRead; i += HOLE) {
          const n = Math.min(HOLE, bytesRead - i);
          if (buffer.compare(ZEROS, 0, n, i, i + n) !== 0) await target.write(buffer, i, n, at + i);
        }
        at += bytesRead;
      }
      await target.truncate(at);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/** copyContent, synchronously (a small file). */
function copyContentSync(from: string, to: string): void {
  const source = openSync(from, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const target = openSync(
      to,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      syncChunk ??= Buffer.alloc(CHUNK);
      const buffer = syncChunk;
      let at = 0;
      for (;;) {
        const bytesRead = readSync(source, buffer, 0, CHUNK, at);
        if (bytesRead === 0) break;
        for (let i = 0; i < bytesRead; i += HOLE) {
          const n = Math.min(HOLE, bytesRead - i);
          if (buffer.compare(ZEROS, 0, n, i, i + n) === 0) continue;
          for (let done = 0; done < n; ) done += writeSync(target, buffer, i + done, n - done, at + i + done);
        }
        at += bytesRead;
      }
      ftruncateSync(target, at);
    } finally {
      closeSync(target);
    }
  } finally {
    closeSync(source);
  }
}

/** What a tree copy leaves out and how it copies databases. */
export interface TreeCopyOptions {
  /** Process residue to leave out (residue.ts); @default the generic rules only */
  residue?: ResidueFilter;
  /**
   * Where `from` sits, `/`-separated, in the tree the residue patterns are anchored at: a folder of that tree copied
   * on its own still leaves out what an anchored pattern (`/tmp/`, `cache/*.db`) names. @default '' (the root)
   */
  rel?: string;
  /**
   * The Node with `node:sqlite` that copies databases consistently (sqlite-copy.ts): each is
   * copied at the end as one consolidated file and its `-wal`/`-shm`/`-journal` never travel. Absent: a
   * database is copied with its companions (consistent only while the service is stopped).
   */
  sqliteNode?: string | undefined;
  /** Absolute paths left out (folders the operator declared independent of the release). @default none */
  skip?: ReadonlySet<string>;
  /**
   * Tried before each plain file is copied, with its path relative to the tree: returns the bytes when it
   * placed `to` itself (a hard link to the same, unchanged file in an earlier checkpoint: shared.ts).
   */
  reuse?: (from: string, to: string, rel: string) => Promise<number | undefined>;
  /** `to` is an empty folder already (one handed to a worker): filled, not made. @default false */
  into?: boolean;
}

/**
 * Copy a directory tree; symlinks inside it stay symlinks; residue (sockets, FIFOs, locks, PID files,
 * a file naming a live process) is left out. Returns the bytes copied.
 */
export async function copyTree(from: string, to: string, options: TreeCopyOptions = {}): Promise<number> {
  const databases: Array<{ from: string; to: string }> = [];
  const residue = options.residue ?? new ResidueFilter();
  const skip = options.skip ?? new Set<string>();
  const size = await copyTreeAt({
    from,
    to,
    ...(options.into && { into: true }),
    rel: options.rel ?? '',
    residue,
    skip,
    ...(options.reuse && { reuse: options.reuse }),
    ...(options.sqliteNode && { databases }),
    turn: { at: Date.now() },
  });
  if (!options.sqliteNode) return size;
  await copyDatabases(databases, { node: options.sqliteNode });
  let added = 0;
  for (const pair of databases) {
    await copyMeta(pair.from, pair.to);
    added += (await fs.stat(pair.to)).size;
  }
  return size + added;
}

/**
 * One database file to `to`: consolidated by `sqliteNode` when given (returns no companions), else with
 * whichever of its companions exist (the suffixes copied are returned).
 */
export async function copyDatabaseFile(
  from: string,
  to: string,
  sqliteNode: string | undefined,
): Promise<{ size: number; companions: Array<{ suffix: string; present: boolean; size?: number }> }> {
  // A file named like a database that SQLite did not write (empty, or not yet one) is copied as it is.
  if (sqliteNode && (await hasSqliteHeader(from))) {
    await copyDatabases([{ from, to }], { node: sqliteNode });
    await copyMeta(from, to);
    const companions = SQLITE_COMPANIONS.map((suffix) => ({ suffix, present: false }));
    return { size: (await fs.stat(to)).size, companions };
  }
  const size = await copyFileDurably(from, to);
  const companions = [];
  for (const suffix of SQLITE_COMPANIONS) {
    const copied = await copyFileDurably(from + suffix, to + suffix).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    companions.push(copied === undefined ? { suffix, present: false } : { suffix, present: true, size: copied });
  }
  return { size, companions };
}

interface TreeAt {
  from: string;
  to: string;
  rel: string;
  residue: ResidueFilter;
  skip: ReadonlySet<string>;
  /** Where the databases found go, to be copied at the end; absent: copied as files. */
  databases?: Array<{ from: string; to: string }>;
  reuse?: TreeCopyOptions['reuse'];
  /** `to` exists (the top of a copy into a handed folder). */
  into?: boolean;
  /**
   * When the whole copy last gave the event loop a turn: its small files are copied synchronously, each made durable
   * (fsync), which a loaded disk may hold for tens of milliseconds; a turn at least every 50 ms keeps the root lock's
   * heartbeat (store/lock.ts) and a cancel answered.
   */
  turn: { at: number };
}

async function copyTreeAt(at: TreeAt): Promise<number> {
  const { from, to } = at;
  if (!at.into) await fs.mkdir(to, { mode: 0o700 });
  let size = 0;
  const entries = await fs.readdir(from, { withFileTypes: true });
  const databases = at.databases ? await databasesIn(from, entries) : new Set<string>();
  for (const entry of entries) {
    const rel = at.rel ? `${at.rel}/${entry.name}` : entry.name;
    const [a, b] = [path.join(from, entry.name), path.join(to, entry.name)];
    if (at.residue.matches(rel, entry) || isCompanionOf(entry.name, databases) || at.skip.has(a)) continue;
    if (entry.isDirectory()) size += await copyTreeAt({ ...at, from: a, to: b, rel, into: false });
    else if (entry.isSymbolicLink()) await copyLink(a, b);
    else if (databases.has(entry.name)) at.databases!.push({ from: a, to: b });
    else {
      size += await copyPlainFile(at, { a, b, rel, name: entry.name });
      if (Date.now() - at.turn.at >= TURN_EVERY_MS) {
        await yieldToLoop();
        at.turn.at = Date.now();
      }
    }
  }
  await fsyncDir(to);
  await copyMeta(from, to); // last: a read-only directory could not have been filled
  return size;
}

async function copyPlainFile(at: TreeAt, file: { a: string; b: string; rel: string; name: string }): Promise<number> {
  if (namesLiveProcessSync(file.a, file.name, lstatSync(file.a).size)) return 0;
  return (await at.reuse?.(file.a, file.b, file.rel)) ?? (await copyFileDurably(file.a, file.b));
}

/**
 * The SQLite databases among a folder's files: named like one or with a companion beside it, and with
 * SQLite's header (a file named like one that SQLite never wrote is a file). Other files are not opened.
 */
export async function databasesIn(dir: string, entries: readonly Dirent[]): Promise<Set<string>> {
  const names = new Set(entries.map((e) => e.name));
  const found = new Set<string>();
  for (const e of entries) {
    if (!e.isFile() || SQLITE_COMPANIONS.some((s) => e.name.endsWith(s))) continue;
    const likely = looksLikeSqlite(e.name) || SQLITE_COMPANIONS.some((s) => names.has(e.name + s));
    if (likely && (await hasSqliteHeader(path.join(dir, e.name)))) found.add(e.name);
  }
  return found;
}

export const isCompanionOf = (name: string, databases: ReadonlySet<string>) =>
  SQLITE_COMPANIONS.some((s) => name.endsWith(s) && databases.has(name.slice(0, -s.length)));

export async function copyLink(from: string, to: string): Promise<void> {
  await fs.symlink(await fs.readlink(from), to);
  await copyMeta(from, to);
}

/** Whatever is at `target` and is not a plain file goes first; files are replaced by the rename itself. */
async function clearUnlessFile(target: string): Promise<void> {
  const stat = await fs.lstat(target).catch(() => undefined);
  if (stat && !stat.isFile()) await removeTree(target);
}

/** Put `from` at `target` atomically: a temp copy beside it, fsynced, renamed over it. */
export async function placeFile(from: string, target: string): Promise<void> {
  await clearUnlessFile(target);
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = tempName(target);
  try {
    await copyFileDurably(from, tmp);
    await fs.rename(tmp, target);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
  await fsyncDir(path.dirname(target));
}

async function placeLink(from: string, target: string): Promise<void> {
  await clearUnlessFile(target);
  const tmp = tempName(target);
  await copyLink(from, tmp);
  await fs.rename(tmp, target);
}

/**
 * Make the directory `target` hold exactly what `from` holds: missing entries put back, extra ones
 * deleted, except the absolute paths in `keep` (independent folders), which are left as they are.
 */
export async function syncTree(from: string, target: string, keep: ReadonlySet<string> = new Set()): Promise<void> {
  const stat = await fs.lstat(target).catch(() => undefined);
  if (stat && !stat.isDirectory()) await removeTree(target);
  if (!stat?.isDirectory()) await fs.mkdir(target, { recursive: true });
  await fs.chmod(target, 0o700); // writable while it is filled; its own mode comes back last
  const wanted = (await fs.readdir(from, { withFileTypes: true })).filter((e) => !keep.has(path.join(target, e.name)));
  const names = new Set(wanted.map((e) => e.name));
  for (const name of await fs.readdir(target)) {
    const p = path.join(target, name);
    if (!names.has(name) && !keep.has(p)) await removeTree(p);
  }
  for (const entry of wanted) {
    const [a, b] = [path.join(from, entry.name), path.join(target, entry.name)];
    if (entry.isDirectory()) await syncTree(a, b, keep);
    else if (entry.isSymbolicLink()) await placeLink(a, b);
    else if (!(await sameFile(a, b))) {
      await placeFile(a, b);
      crashPoint('restore:partial'); // one file back, the rest not: the next start (or recover) completes it
    } else await copyMeta(a, b);
  }
  await fsyncDir(target);
  await copyMeta(from, target);
}

/** Whether `target` is already a regular file with `from`'s size and content (a restore rewrites nothing else). */
async function sameFile(from: string, target: string): Promise<boolean> {
  const [a, b] = await Promise.all([fs.lstat(from), fs.lstat(target).catch(() => undefined)]);
  if (!b?.isFile() || a.size !== b.size) return false;
  if (a.ino === b.ino && a.dev === b.dev) return false; // a hard link would share future writes: replace it
  const [x, y] = await Promise.all([fs.readFile(from), fs.readFile(target)]);
  return x.equals(y);
}
