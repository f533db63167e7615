/**
 * Unpack a package tarball in one pass: gunzip → strict tar reader → check each entry against what
 * was written so far → write it (never following a link on disk) → sha256 while writing. One bad
 * entry rejects the whole tarball and removes everything written. The entry that is checked is the
 * entry that is written: there is no second parser.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { type Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  ReleaseSwitcherError,
  asBadTarball,
  asDiskFull,
  isCorruptTarball,
  isReleaseSwitcherError,
} from '../../model/errors.js';
import { type RawEntry, TarReader, TarRefusal, type TarEvent, preview } from './tar-reader.js';
import { TreeModel, entrySegments } from './unpack-tree.js';
import { FileBody, type Linkable, type UnpackedEntry, Writer } from './unpack-writer.js';

export interface UnpackTarballOptions {
  /** A gzipped tarball: its path, or a stream of its bytes. */
  source: string | NodeJS.ReadableStream;
  /** A fresh (absent or empty) directory. */
  dest: string;
  /** Leading path segments to drop: 1 for npm's `package/`. Entries with nothing left are skipped, as npm does. */
  strip?: number;
  signal?: AbortSignal;
  onEntry?: (count: number) => void;
  /**
   * 'write' (default): symlinks are written when they stay inside. 'skip': checked the same way but
   * not written, as npm itself does (pacote's extract filter drops every link entry), for a tree
   * equal to `npm install`'s.
   */
  symlinks?: 'write' | 'skip';
  /** Files an earlier release holds byte for byte: not written, marked `linkFrom` (see Writer). */
  linkable?: Linkable;
  /**
   * Most entries one tarball may hold; past it, BAD_TARBALL. Far above any real package (openclaw's has 12,800
   * files), far below what makes the cost of a tarball unbounded (each entry is a file created, a record kept).
   * @default 100_000
   */
  maxEntries?: number;
}

export type { Linkable, UnpackedEntry } from './unpack-writer.js';

export interface UnpackTarballResult {
  entries: UnpackedEntry[];
  files: number;
  bytes: number;
}

/** A file body held in memory up to this size; past it, written as it arrives (a bomb cannot fill memory). */
const STREAM_ABOVE = 16 * 1024 * 1024;
export const MAX_ENTRIES = 100_000;
/**
 * An entry bomb: a small download that unpacks into a great many entries (150,000 empty files gzip to 0.9 MB,
 * 6 bytes an entry, and would cost minutes of file creation). Real packages carry hundreds of compressed bytes an
 * entry (SVG icon sets ~200, openclaw ~5,600). Judged once enough entries are seen for the average to mean
 * something, so a bomb is refused after a few seconds, not after it has been written out.
 */
const DENSITY_AFTER = 10_000;
const MIN_COMPRESSED_BYTES_PER_ENTRY = 32;

export async function unpackTarball(options: UnpackTarballOptions): Promise<UnpackTarballResult> {
  const { dest, signal } = options;
  signal?.throwIfAborted();
  const existed = await prepareDest(dest);
  const writer = new Writer(await fs.realpath(dest), options.linkable);
  const entries: UnpackedEntry[] = [];
  const { input, compressedBytes } = openInput(options.source);
  const onAbort = () =>
    (input as Readable).destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await readAll(input, {
      ...options,
      strip: options.strip ?? 0,
      writer,
      entries,
      seen: { count: 0 },
      compressedBytes,
      files: new Set(),
    });
    await writer.drain();
    signal?.throwIfAborted();
  } catch (error) {
    input.destroy();
    await writer.settle();
    await removeWritten(dest, existed);
    throw unpackError(error, signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  const files = entries.filter((entry) => entry.type === 'file');
  return { entries, files: files.length, bytes: files.reduce((sum, entry) => sum + entry.size, 0) };
}

interface ReadContext extends UnpackTarballOptions {
  strip: number;
  writer: Writer;
  entries: UnpackedEntry[];
  seen: { count: number };
  /** Bytes of the gzipped source consumed so far. */
  compressedBytes: () => number;
  /** File paths written so far (a repeated one replaces its entry). */
  files: Set<string>;
}

async function readAll(input: Readable, ctx: ReadContext): Promise<void> {
  const reader = new TarReader();
  const model = new TreeModel();
  let current: FileBody | undefined;
  const events: TarEvent[] = [];
  for await (const chunk of input) {
    events.length = 0;
    reader.push(chunk as Buffer, events);
    for (const event of events) {
      if (event.kind === 'entry') current = await startEntry(event.entry, model, ctx);
      else if (event.kind === 'data') {
        current?.add(event.chunk);
        if (current && current.buffered > STREAM_ABOVE) await ctx.writer.spill(current);
      } else if (current) {
        ctx.writer.writeFile(current);
        current = undefined;
      }
    }
    await ctx.writer.room();
  }
  reader.finish();
  model.checkAllLinks();
}

async function startEntry(raw: RawEntry, model: TreeModel, ctx: ReadContext): Promise<FileBody | undefined> {
  ctx.signal?.throwIfAborted();
  if (raw.mode & 0o7000)
    throw new TarRefusal(`${preview(raw.path)} has setuid/setgid/sticky bits (mode ${raw.mode.toString(8)})`);
  const segments = entrySegments(raw.path, ctx.strip);
  if (!segments) return undefined; // the top folder itself, as with npm's strip
  if (raw.type === 'symlink' && ctx.symlinks === 'skip') {
    new TreeModel().add(segments, 'symlink', raw.linkpath); // still refuse a target that is absolute or climbs out
    return undefined;
  }
  const rel = segments.join('/');
  const parents = model.add(segments, raw.type, raw.linkpath);
  for (const dir of parents) {
    ctx.writer.mkdir(dir);
    ctx.entries.push({ path: dir, type: 'dir', size: 0, mode: 0o755 });
  }
  ctx.onEntry?.(++ctx.seen.count);
  checkEntryBounds(ctx);
  if (raw.type === 'dir') {
    if (!ctx.writer.hasDir(rel)) {
      ctx.writer.mkdir(rel);
      ctx.entries.push({ path: rel, type: 'dir', size: 0, mode: 0o755 });
    }
    return undefined;
  }
  if (raw.type === 'symlink') {
    ctx.writer.symlink(rel, raw.linkpath!);
    ctx.entries.push({ path: rel, type: 'symlink', size: 0, mode: 0o777, target: raw.linkpath! });
    return undefined;
  }
  // npm's mode for an extracted file: ((mode | 0o666) & ~umask) | 0o600 with npm's umask 0o022, i.e.
  // rw-r--r-- plus exactly the execute bits the tarball gave (a 0o754 file stays 0o754, not 0o755).
  const entry: UnpackedEntry = { path: rel, type: 'file', size: raw.size, mode: 0o644 | (raw.mode & 0o111) };
  if (ctx.files.has(rel))
    ctx.entries.splice(
      ctx.entries.findIndex((e) => e.path === rel),
      1,
    ); // a repeated file: the later entry is the file
  ctx.files.add(rel);
  ctx.entries.push(entry);
  return new FileBody(entry);
}

function checkEntryBounds(ctx: ReadContext): void {
  const count = ctx.seen.count;
  const max = ctx.maxEntries ?? MAX_ENTRIES;
  if (count > max) throw new TarRefusal(`it holds more than ${max} entries`);
  if (count === DENSITY_AFTER && ctx.compressedBytes() / count < MIN_COMPRESSED_BYTES_PER_ENTRY) {
    const per = (ctx.compressedBytes() / count).toFixed(1);
    throw new TarRefusal(
      `it is an entry bomb: ${count} entries from ${ctx.compressedBytes()} compressed bytes (${per} an entry)`,
    );
  }
}

function openInput(source: string | NodeJS.ReadableStream): { input: Readable; compressedBytes: () => number } {
  const raw =
    typeof source === 'string' ? createReadStream(source, { highWaterMark: 1024 * 1024 }) : (source as Readable);
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  // What gunzip has consumed, not what was read ahead of it (a whole small file arrives in one read).
  return { input: pipeline(raw, gunzip, () => undefined), compressedBytes: () => gunzip.bytesWritten };
}

/** Create `dest` or accept it empty; returns whether it existed (so cleanup keeps it). */
async function prepareDest(dest: string): Promise<boolean> {
  try {
    await fs.mkdir(dest, { recursive: false, mode: 0o755 });
    return false;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    if ((await fs.readdir(dest)).length > 0)
      throw new ReleaseSwitcherError('INTERNAL', `Unpack destination ${dest} is not empty.`);
    return true;
  }
}

async function removeWritten(dest: string, existed: boolean): Promise<void> {
  if (!existed) return fs.rm(dest, { recursive: true, force: true });
  for (const name of await fs.readdir(dest).catch(() => []))
    await fs.rm(path.join(dest, name), { recursive: true, force: true });
}

function unpackError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (isReleaseSwitcherError(error)) return error;
  if (signal?.aborted)
    return new ReleaseSwitcherError('CANCELLED', 'Unpacking was cancelled; nothing was kept.', { cause: error });
  if (error instanceof TarRefusal) {
    return error.corrupt
      ? new ReleaseSwitcherError('BAD_TARBALL', `The tarball is truncated or corrupt: ${error.message}.`, {
          hint: 'Download it again; if it persists the tarball is broken.',
          cause: error,
        })
      : new ReleaseSwitcherError('BAD_TARBALL', `The tarball is unsafe: ${error.message}.`, {
          hint: 'Do not install this package; report it to its publisher.',
          cause: error,
          details: { problem: error.message },
        });
  }
  const code = (error as NodeJS.ErrnoException)?.code ?? '';
  // The checks bound each name and path; what is still too long once below this destination is the
  // tarball's doing too (the destination itself exists), never an internal error.
  if (code === 'ENAMETOOLONG') {
    return new ReleaseSwitcherError(
      'BAD_TARBALL',
      'The tarball is unsafe: a path in it is too long to write here (ENAMETOOLONG).',
      {
        hint: 'Do not install this package; report it to its publisher.',
        cause: error,
        details: { problem: 'path too long' },
      },
    );
  }
  if (isCorruptTarball(error)) return asBadTarball(error);
  return asDiskFull(error, 'unpacking a tarball');
}
