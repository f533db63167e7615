/**
 * Garbage collection of the content-addressed store (content-store.ts), run by `prune` under the root's
 * lock, once the pruned releases are gone: no staging runs meanwhile (it holds the same lock), and a
 * staging killed earlier still names its files from staging/ (their link count is above 1: kept).
 *
 * A store file whose link count is 1 is named by no release, staging or trash: it is removed (its
 * immutable attribute lifted first, as prune does for a release). Then every index that names a file
 * no longer there is removed, and any leftover temp name. Each step is one unlink: killed anywhere, the
 * store is consistent (staging links from an index only when every file it names is present), and the
 * next prune finishes the work.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../model/errors.js';
import { crashPoint } from '../platform/crashpoint.js';
import { setImmutablePaths } from '../platform/immutable.js';
import { STORE_FILE_NAME, asStoreIndex, holdsAll, keyOf } from './content-store.js';
import type { Layout } from './layout.js';

export interface StoreGarbage {
  /** Store files removed, and their bytes. */
  files: number;
  bytes: number;
  /** Indexes removed (their files gone, or unreadable). */
  indexes: number;
}

async function readdirIfAny(dir: string): Promise<string[]> {
  return fs.readdir(dir).catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return [] as string[];
    throw error;
  });
}

/** Every entry of `store/<kind>/xx/`, as absolute paths. */
async function entriesOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const shard of (await readdirIfAny(dir)).sort()) {
    const at = path.join(dir, shard);
    for (const name of (await readdirIfAny(at)).sort()) out.push(path.join(at, name));
  }
  return out;
}

export async function collectStoreGarbage(layout: Layout): Promise<StoreGarbage> {
  const out: StoreGarbage = { files: 0, bytes: 0, indexes: 0 };
  const unreferenced: { abs: string; size: number }[] = [];
  for (const abs of await entriesOf(layout.storeFiles)) {
    const stat = await fs.lstat(abs).catch(() => undefined);
    if (!stat) continue;
    // A temp name of a copy cut short: never a store file, nothing links it.
    if (!STORE_FILE_NAME.test(path.basename(abs))) {
      if (stat.isFile()) await fs.rm(abs, { force: true });
      continue;
    }
    if (stat.isFile() && stat.nlink === 1) unreferenced.push({ abs, size: stat.size });
  }
  if (unreferenced.length > 0) {
    // Quiet where it was never set or cannot be (an account without CAP_LINUX_IMMUTABLE, tmpfs).
    await setImmutablePaths(
      unreferenced.map((file) => file.abs),
      false,
    );
    for (const file of unreferenced) {
      await fs.unlink(file.abs);
      out.files++;
      out.bytes += file.size;
      crashPoint('store-gc:file-removed');
    }
  }
  for (const abs of await entriesOf(layout.storeIndex)) {
    const name = path.basename(abs);
    const key = /^([0-9a-f]{64})\.json$/.exec(name)?.[1];
    const index = key ? await fs.readFile(abs, 'utf8').then(parseIndex, () => undefined) : undefined;
    if (index && keyOf(index) === key && holdsAll(layout, index)) continue;
    await fs.rm(abs, { force: true, recursive: true });
    if (key) out.indexes++;
    crashPoint('store-gc:index-removed');
  }
  return out;
}

function parseIndex(text: string) {
  try {
    return asStoreIndex(JSON.parse(text));
  } catch {
    return undefined;
  }
}
