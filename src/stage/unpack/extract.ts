/**
 * Extracting the main package's tarball for staging: a thin wrapper over the one-pass unpacker
 * (see unpack.ts), which refuses anything a package has no business containing and hashes every
 * file as it writes it. The hashes come back as `KnownHash`es so the manifest does not read the
 * package's own files a second time.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { KnownHash } from '../../store/manifest.js';
import { mapLimit } from '../../platform/tree.js';
import { type Linkable, type UnpackedEntry, unpackTarball } from './unpack.js';

export interface Extracted {
  files: number;
  bytes: number;
  entries: UnpackedEntry[];
  /** sha256 of each file as written, keyed by path inside the package, valid while its inode is unchanged. */
  known: Map<string, KnownHash>;
  /** Files not written because an earlier release holds them byte for byte (`linkFrom`): the caller links them. */
  deferred: UnpackedEntry[];
}

export interface ExtractOptions {
  signal?: AbortSignal;
  /** Entries written so far. */
  onFile?: (count: number) => void;
  /** Files whose hash not to hand on (npm rewrites them, so hashing ahead is wasted). */
  skipKnown?: (rel: string) => boolean;
  /** See UnpackOptions.linkable. */
  linkable?: Linkable;
}

const STAT_PARALLELISM = 32;

/** Unpack `tarball` into `dest` (absent or empty), dropping npm's top folder. Unsafe → BAD_TARBALL, nothing left. */
export async function extractTarball(tarball: string, dest: string, options: ExtractOptions = {}): Promise<Extracted> {
  const { entries, files, bytes } = await unpackTarball({
    source: tarball,
    dest,
    strip: 1,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onFile ? { onEntry: options.onFile } : {}),
    ...(options.linkable ? { linkable: options.linkable } : {}),
  });
  const skip = options.skipKnown ?? (() => false);
  const deferred = entries.filter((entry) => entry.linkFrom !== undefined);
  const hashed = entries.filter(
    (entry) => entry.type === 'file' && entry.sha256 && entry.linkFrom === undefined && !skip(entry.path),
  );
  const known = new Map<string, KnownHash>();
  // Stat after the write and before anything else may touch the files: a later write moves ctime,
  // so computeManifest re-hashes instead of trusting these.
  await mapLimit(hashed, STAT_PARALLELISM, async (entry) => {
    const stat = await fs.lstat(path.join(dest, entry.path), { bigint: true });
    known.set(entry.path, { ino: stat.ino, size: stat.size, ctimeNs: stat.ctimeNs, sha256: entry.sha256! });
  });
  return { files, bytes, entries, known, deferred };
}
