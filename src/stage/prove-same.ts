/**
 * Proof that a release staged from the registry is the install it stands in for (adopting a pnpm, bun or yarn global
 * install, whose dependencies live outside the package folder): the package's own files, outside its `node_modules`,
 * compared file by file. Each file the install holds must be what the registry published (the tarball, checked
 * against its integrity when it was fetched) or what the package's own install scripts made of it in our staging
 * (openclaw's postinstall removes `.openclaw-lifecycle-pending`; pnpm 10+ does not run it). A file that is neither,
 * or a published file the install lacks while staging kept it, is a difference: a patched copy is never adopted.
 */
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { hashFile } from '../store/manifest.js';
import { RELEASE_MARKER } from '../store/layout.js';
import type { ManifestEntry } from '../store/manifest.js';
import { mapLimit, walkTree } from '../platform/tree.js';
import { TarReader, type TarEvent } from './unpack/tar-reader.js';
import { entrySegments } from './unpack/unpack-tree.js';

/** Path inside the package → sha256 of its bytes. */
export type FileHashes = Map<string, string>;

/** Whether a path is the package's own (not in its top `node_modules`, not our marker). */
const own = (rel: string) => rel !== 'node_modules' && !rel.startsWith('node_modules/') && rel !== RELEASE_MARKER;

/** The regular files of a registry tarball (npm's `package/` folder dropped), hashed as they stream by. */
export async function tarballHashes(tarball: string, signal?: AbortSignal): Promise<FileHashes> {
  const hashes: FileHashes = new Map();
  const reader = new TarReader();
  let current: { rel: string; hash: ReturnType<typeof createHash> } | undefined;
  const finish = () => {
    if (current) hashes.set(current.rel, current.hash.digest('hex'));
    current = undefined;
  };
  const events: TarEvent[] = [];
  const stream = createReadStream(tarball, signal ? { signal } : {}).pipe(createGunzip());
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    reader.push(chunk, events);
    for (const event of events.splice(0)) {
      if (event.kind === 'data') current?.hash.update(event.chunk);
      else if (event.kind === 'end') finish();
      else {
        finish();
        const rel = entrySegments(event.entry.path, 1)?.join('/');
        if (rel !== undefined && event.entry.type === 'file' && own(rel)) current = { rel, hash: createHash('sha256') };
      }
    }
  }
  finish();
  return hashes;
}

/** The regular files of an installed package folder, outside its `node_modules`. */
export async function folderHashes(dir: string): Promise<FileHashes> {
  const files = (await walkTree(dir, { skip: (rel) => !own(rel) })).filter((entry) => entry.dirent.isFile());
  const hashed = await mapLimit(files, 16, async (entry) => [entry.rel, await hashFile(entry.abs)] as const);
  return new Map(hashed);
}

/** The files of a staged release's manifest, outside its `node_modules`. */
export function manifestHashes(files: readonly ManifestEntry[]): FileHashes {
  return new Map(
    files.filter((f) => f.type === 'file' && own(f.path)).map((f) => [f.path, (f as { sha256: string }).sha256]),
  );
}

/**
 * Paths where the install holds something else than the registry's file and than staging's (absent counts as a value:
 * a file the install lacks is fine when the tarball or the scripts lack it too). Empty: proven the same.
 */
export function differences(installed: FileHashes, published: FileHashes, staged: FileHashes): string[] {
  const paths = new Set([...installed.keys(), ...published.keys(), ...staged.keys()]);
  return [...paths]
    .filter((rel) => {
      const have = installed.get(rel);
      return have !== published.get(rel) && have !== staged.get(rel);
    })
    .sort();
}
