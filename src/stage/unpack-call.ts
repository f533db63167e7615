/**
 * The one call staging makes to unpack a tarball. Shaped like `unpackTarball` of ./unpack.ts (a
 * single pass that checks, writes and hashes each entry; written in parallel): until that lands this
 * wraps the two-pass extractor, and the lead points it at unpack.ts when merging.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { extractTarball } from './extract.js';
import type { ManifestEntry } from '../store/manifest.js';

export interface UnpackOptions {
  tarball: string | Readable;
  dest: string;
  signal?: AbortSignal | undefined;
  onEntry?: (count: number) => void;
}

export interface UnpackResult {
  /** What the unpacker hashes as it writes; empty from this wrapper (the manifest step hashes). */
  files: ManifestEntry[];
  count: number;
  bytes: number;
}

export async function unpack(options: UnpackOptions): Promise<UnpackResult> {
  let file = typeof options.tarball === 'string' ? options.tarball : undefined;
  const tmp = file ? undefined : await fs.mkdtemp(path.join(os.tmpdir(), 'rs-unpack-'));
  try {
    if (!file) {
      file = path.join(tmp!, 'package.tgz');
      await pipeline(options.tarball as Readable, createWriteStream(file), { signal: options.signal });
    }
    const count = await extractTarball(file, options.dest, { env: { PATH: '/usr/local/bin:/usr/bin:/bin' }, onFile: options.onEntry });
    return { files: [], count, bytes: (await fs.stat(file)).size };
  } finally {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  }
}
