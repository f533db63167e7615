/**
 * Some files of a tarball read back into memory, by their path inside the package (npm's top folder
 * dropped, as unpack.ts drops it): the store takes a main package's files as its tarball holds them,
 * and those its own install scripts removed or rewrote are no longer in the staged package. Read with
 * the same strict reader as the unpack, which already accepted this tarball.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { TarReader, type TarEvent } from './tar-reader.js';
import { entrySegments } from './unpack-tree.js';

/**
 * The bytes of each of `wanted` (paths inside the package) that the tarball holds as a file, read only as far as
 * the last of them (openclaw's marker is its first entry). A file the tarball repeats is read at its first entry,
 * where the unpack kept the later one: its bytes then do not hash to what the unpack recorded, and the store
 * refuses them (addBytes), as it would any other mismatch.
 */
export async function readTarballFiles(tarball: string, wanted: ReadonlySet<string>): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  if (wanted.size === 0) return out;
  const input = pipeline(createReadStream(tarball, { highWaterMark: 1024 * 1024 }), createGunzip(), () => undefined);
  const reader = new TarReader();
  const events: TarEvent[] = [];
  let current: { path: string; chunks: Buffer[] } | undefined;
  for await (const chunk of input) {
    events.length = 0;
    reader.push(chunk as Buffer, events);
    for (const event of events) {
      if (event.kind === 'entry') {
        const segments = event.entry.type === 'file' ? entrySegments(event.entry.path, 1) : undefined;
        const rel = segments?.join('/');
        current = rel !== undefined && wanted.has(rel) ? { path: rel, chunks: [] } : undefined;
      } else if (event.kind === 'data') current?.chunks.push(event.chunk);
      else if (current) {
        if (!out.has(current.path)) out.set(current.path, Buffer.concat(current.chunks));
        current = undefined;
      }
    }
    // Leaving the loop closes the stream: the rest of the tarball is not read.
    if (out.size === wanted.size) return out;
  }
  reader.finish();
  return out;
}
