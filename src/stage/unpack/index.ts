/**
 * The one call staging makes to unpack a tarball (the main package, and each package the fast path
 * extracts new from the npm cache): the one-pass unpacker (unpack.ts) checks, writes and hashes every
 * entry, dropping npm's top folder; its hashes come back as `KnownHash`es keyed by path inside the
 * release, so the manifest step does not read those files again.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { mapLimit } from '../../platform/tree.js';
import type { KnownHash } from '../../store/manifest.js';
import { type UnpackedEntry, unpackTarball } from './unpack.js';

export interface UnpackOptions {
  /** The .tgz file. */
  tarball: string;
  /** Where the package goes: absent or empty (its parents are made). */
  dest: string;
  signal?: AbortSignal | undefined;
  /** Entries written so far. */
  onEntry?: (count: number) => void;
  /** Where `dest` is inside the release (`node_modules/x`), so the hashes are keyed by release path. @default "" */
  location?: string;
  /** Paths (inside `dest`) whose hashes are not worth keeping: something rewrites them later (npm). */
  skipKnown?: (rel: string) => boolean;
  /**
   * Which earlier release file holds this content and mode byte for byte, by path inside the
   * release: such a file is not written but handed back in `deferred`, to be hardlinked.
   */
  linkable?: (releasePath: string, file: { sha256: string; mode: number; size: number }) => string | undefined;
}

/** A file of the tarball not written, to be linked from `source` (its sha256 computed from the tarball). */
export interface DeferredFile {
  /** Path inside the release. */
  path: string;
  source: string;
  sha256: string;
  size: number;
  /** As it would have been written (0644 or 0755). */
  mode: number;
}

export interface UnpackResult {
  /** sha256 of each file as written, keyed by path inside the release, valid while its inode is unchanged. */
  known: Map<string, KnownHash>;
  /** Files in the tarball. */
  count: number;
  bytes: number;
  /** Every entry, by path inside `dest`. */
  entries: UnpackedEntry[];
  deferred: DeferredFile[];
}

const STAT_PARALLELISM = 32;

/** Unpack `tarball` into `dest`, dropping npm's top folder. Unsafe → BAD_TARBALL, nothing left. */
export async function unpack(options: UnpackOptions): Promise<UnpackResult> {
  const { dest, linkable } = options;
  // The unpacker makes `dest` itself (and refuses one that is a link); a nested package's parents
  // (node_modules/@scope/) are ours to make.
  await fs.mkdir(path.dirname(dest), { recursive: true });
  const location = options.location ?? '';
  const inRelease = (rel: string) => (location === '' ? rel : path.posix.join(location, rel));
  const { entries, files, bytes } = await unpackTarball({
    source: options.tarball,
    dest,
    strip: 1,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onEntry ? { onEntry: options.onEntry } : {}),
    ...(linkable ? { linkable: (entry) => linkable(inRelease(entry.path), entry) } : {}),
  });
  const skip = options.skipKnown ?? (() => false);
  const hashed = entries.filter(
    (entry) => entry.type === 'file' && entry.sha256 && entry.linkFrom === undefined && !skip(entry.path),
  );
  const deferred = entries
    .filter((entry) => entry.linkFrom !== undefined)
    .map((entry) => ({
      path: inRelease(entry.path),
      source: entry.linkFrom!,
      sha256: entry.sha256!,
      size: entry.size,
      mode: entry.mode,
    }));
  return { known: await knownHashes(dest, hashed, inRelease), count: files, bytes, entries, deferred };
}

/**
 * Stat after the write and before anything else may touch the files: a later write moves ctime, so
 * computeManifest re-hashes instead of trusting these.
 */
async function knownHashes(
  dest: string,
  hashed: UnpackedEntry[],
  inRelease: (rel: string) => string,
): Promise<Map<string, KnownHash>> {
  const known = new Map<string, KnownHash>();
  await mapLimit(hashed, STAT_PARALLELISM, async (entry) => {
    const stat = await fs.lstat(path.join(dest, entry.path), { bigint: true });
    known.set(inRelease(entry.path), { ino: stat.ino, size: stat.size, ctimeNs: stat.ctimeNs, sha256: entry.sha256! });
  });
  return known;
}
