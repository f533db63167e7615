/**
 * The one call staging makes to unpack a tarball (the main package, and each package the fast path
 * extracts new from the npm cache): the one-pass unpacker checks, writes and hashes every entry, and
 * its hashes come back as `KnownHash`es keyed by path inside the release, so the manifest step does
 * not read those files again.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { KnownHash } from '../../store/manifest.js';
import { extractTarball } from './extract.js';

export interface UnpackOptions {
  /** The .tgz file. */
  tarball: string;
  dest: string;
  signal?: AbortSignal | undefined;
  onEntry?: (count: number) => void;
  /** Where `dest` is inside the release (`node_modules/x`), so the hashes are keyed by release path. @default "" */
  location?: string;
  /** Paths (inside `dest`) whose hashes are not worth keeping: something rewrites them later. */
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
  known: Map<string, KnownHash>;
  count: number;
  bytes: number;
  deferred: DeferredFile[];
}

export async function unpack(options: UnpackOptions): Promise<UnpackResult> {
  // The unpacker makes `dest` itself (and refuses one that is a link); a nested package's parents
  // (node_modules/@scope/) are ours to make.
  await fs.mkdir(path.dirname(options.dest), { recursive: true });
  const location = options.location ?? '';
  const inRelease = (rel: string) => (location === '' ? rel : path.posix.join(location, rel));
  const linkable = options.linkable;
  const extracted = await extractTarball(options.tarball, options.dest, {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onEntry ? { onFile: options.onEntry } : {}),
    ...(options.skipKnown ? { skipKnown: options.skipKnown } : {}),
    ...(linkable
      ? {
          linkable: (entry: { path: string; sha256: string; mode: number; size: number }) =>
            linkable(inRelease(entry.path), entry),
        }
      : {}),
  });
  const known =
    location === ''
      ? extracted.known
      : new Map([...extracted.known].map(([rel, hash]) => [path.posix.join(location, rel), hash] as const));
  const deferred = extracted.deferred.map((entry) => ({
    path: inRelease(entry.path),
    source: entry.linkFrom!,
    sha256: entry.sha256!,
    size: entry.size,
    mode: entry.mode,
  }));
  return { known, count: extracted.files, bytes: extracted.bytes, deferred };
}
