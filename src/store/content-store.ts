/**
 * The content-addressed store under the root, as pnpm keeps one: each file once, by its sha256 and
 * sealed mode (`store/files/xx/<sha256>-<mode>`), and each package's file index by its integrity
 * (`store/index/xx/<sha256 of the integrity>.json`: path → sha256, mode, size; its folders).
 *
 * A store file is made by link(2) (a sealed staged file gets a second name) or, across filesystems,
 * by a copy written under a temp name and then linked into place: either way its name appears once,
 * complete, and nothing ever opens it for writing again (its mode has no write bits; once a release
 * that links it is sealed, it carries the immutable attribute like the release). An index is written
 * atomically (temp + rename), only once every file it names is in the store; staging still checks that
 * every one is present before it links from it, so an index whose files were collected is harmless.
 *
 * Releases share their inodes with the store: a file whose link count is 1 is named by nothing but the
 * store, and `prune` removes it (store-gc.ts).
 */
import {
  type BigIntStats,
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../model/errors.js';
import { makePrivateDir, tempName, writeFileAtomic } from '../platform/fs.js';
import { sha256Of } from './fingerprints.js';
import type { Layout } from './layout.js';

/** A file of a package, as its index records it. `mode`: the sealed mode (no write bits). */
export interface IndexedFile {
  sha256: string;
  mode: number;
  size: number;
}

/** A package's file index: what its folder holds once staged (its own node_modules/ excepted). */
export interface StoreIndex {
  integrity: string;
  /** Paths relative to the package's folder, '/'-separated. */
  files: Record<string, IndexedFile>;
  /** Its folders (relative, parents before children), so empty ones are made too. */
  dirs: string[];
  /**
   * A main package's index: its tarball whole, bundled packages included (a dependency's leaves those to
   * their own nodes), whatever its install scripts then do. Kept under a key of its own.
   */
  tarball?: true;
}

/**
 * The index's file name: the sha256 of the integrity string (which holds '/', '+' and '='), prefixed
 * with `tarball:` for a main package's (the same package as a dependency has an index of its own).
 */
export function indexKey(integrity: string, tarball = false): string {
  return sha256Of(tarball ? `tarball:${integrity}` : integrity);
}

/** The key `index` is kept under. */
export function keyOf(index: StoreIndex): string {
  return indexKey(index.integrity, index.tarball === true);
}

/** A store file's name: `<sha256>-<mode in octal>`; anything else in `files/` is a leftover. */
export const STORE_FILE_NAME = /^([0-9a-f]{64})-([0-7]{3,4})$/;

const isRelative = (rel: string) =>
  rel !== '' && !rel.startsWith('/') && rel.split('/').every((part) => part !== '' && part !== '.' && part !== '..');

/** The index, if `value` is one (anything else is ignored, as if absent). */
export function asStoreIndex(value: unknown): StoreIndex | undefined {
  const index = value as StoreIndex;
  if (!index || typeof index.integrity !== 'string' || typeof index.files !== 'object' || !index.files)
    return undefined;
  if (!Array.isArray(index.dirs) || !index.dirs.every((dir) => typeof dir === 'string' && isRelative(dir)))
    return undefined;
  for (const [rel, file] of Object.entries(index.files)) {
    if (!isRelative(rel) || !file || !/^[0-9a-f]{64}$/.test(String(file.sha256))) return undefined;
    if (!Number.isInteger(file.mode) || (file.mode & ~0o555) !== 0) return undefined;
    if (!Number.isInteger(file.size) || file.size < 0) return undefined;
  }
  return index;
}

/** The index of the package of `integrity`: a dependency's, or with `tarball` a main package's. */
export async function readIndex(layout: Layout, integrity: string, tarball = false): Promise<StoreIndex | undefined> {
  const text = await fs.readFile(layout.storeIndexFile(indexKey(integrity, tarball)), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const index = asStoreIndex(JSON.parse(text));
    return index?.integrity === integrity && (index.tarball === true) === tarball ? index : undefined;
  } catch {
    return undefined;
  }
}

/** Written once every file it names is in the store (addFile); atomically, so it is whole or absent. */
export async function writeIndex(layout: Layout, index: StoreIndex): Promise<void> {
  const file = layout.storeIndexFile(keyOf(index));
  await fs.mkdir(path.dirname(file), { recursive: true });
  // Not fsynced one by one (hundreds per staging): after a power cut an index is whole, absent, or unreadable
  // (then ignored, as if absent, and removed by the next prune).
  await writeFileAtomic(file, `${JSON.stringify(index)}\n`, { durable: false });
}

/** The store's folders, private to the root's owner like the rest of the root but releases/. */
export async function prepareStore(layout: Layout): Promise<void> {
  await makePrivateDir(layout.store);
  await fs.mkdir(layout.storeFiles, { recursive: true, mode: 0o700 });
  await fs.mkdir(layout.storeIndex, { recursive: true, mode: 0o700 });
  // The 256 shards at once: a staging adds tens of thousands of files, and a mkdir each cost more than the links.
  const present = new Set(await fs.readdir(layout.storeFiles));
  for (let i = 0; i < 256; i++) {
    const shard = i.toString(16).padStart(2, '0');
    if (!present.has(shard))
      await fs.mkdir(path.join(layout.storeFiles, shard), { mode: 0o700 }).catch(() => undefined);
  }
}

/** Whether the store holds every file of `index` (empty files are not stored: they are made afresh). */
export function holdsAll(layout: Layout, index: StoreIndex): boolean {
  return heldFiles(layout, index) !== undefined;
}

/**
 * Each store file `index` names (its empty files excepted: staging writes those) by its store path, with its
 * lstat; undefined when one is missing or not the size the index says. The stat is the inode's state before
 * a staging links to it (from-store.ts): one stat per file for both.
 */
export function heldFiles(layout: Layout, index: StoreIndex): Map<string, BigIntStats> | undefined {
  const held = new Map<string, BigIntStats>();
  for (const file of Object.values(index.files)) {
    if (file.size === 0) continue;
    const source = layout.storeFile(file.sha256, file.mode);
    if (held.has(source)) continue;
    const stat = lstatSync(source, { bigint: true, throwIfNoEntry: false });
    if (!stat?.isFile() || stat.size !== BigInt(file.size)) return undefined;
    held.set(source, stat);
  }
  return held;
}

/**
 * How a file went into the store: `linked` (the source is now a name of the store's inode), `present`
 * (the store had that content and mode already), `copied` (the store is on another filesystem, or the
 * inode has all the links it may have: a copy, checked, was put there), `immutable` (link(2) refused:
 * the source carries the immutable attribute; the caller lifts it and asks again), `mismatch` (a copy
 * did not hash to `sha256`: nothing was added, and the package's index is not written).
 */
export type Added = 'linked' | 'present' | 'copied' | 'immutable' | 'mismatch';

/**
 * Put `source` (a sealed file whose content is `file.sha256`, mode `file.mode`) into the store: a
 * second name for its inode, else a checked copy. Never opens a store file for writing.
 */
export function addFile(layout: Layout, source: string, file: IndexedFile): Added {
  const target = layout.storeFile(file.sha256, file.mode);
  // Only a sealed file of exactly that mode and size becomes a store name (never one still writable).
  const stat = lstatSync(source, { throwIfNoEntry: false });
  if (!stat?.isFile() || (stat.mode & 0o7777) !== file.mode || stat.size !== file.size) return 'mismatch';
  try {
    linkSync(source, target);
    return 'linked';
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'EEXIST') return 'present';
    // A shard prepareStore did not make (removed since): made, and asked again.
    if (code === 'ENOENT' && !existsSync(path.dirname(target))) {
      mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      return addFile(layout, source, file);
    }
    if (code === 'EPERM') return 'immutable';
    if (code !== 'EXDEV' && code !== 'EMLINK') throw error;
  }
  return copyIn(source, target, file);
}

/** A copy of `source` at `target`: checked, written under a temp name, sealed, then linked into place. */
function copyIn(source: string, target: string, file: IndexedFile): Added {
  return writeIn(readFileSync(source), target, file);
}

/**
 * Put `bytes` (a file's content as its tarball holds it: the staged copy is gone or was rewritten) into the
 * store as `file`, the way a copy across filesystems goes in. Never opens a store file for writing.
 */
export function addBytes(layout: Layout, bytes: Buffer, file: IndexedFile): Added {
  const target = layout.storeFile(file.sha256, file.mode);
  if (!existsSync(path.dirname(target))) mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  return writeIn(bytes, target, file);
}

function writeIn(bytes: Buffer, target: string, file: IndexedFile): Added {
  if (bytes.length !== file.size || sha256Of(bytes) !== file.sha256) return 'mismatch';
  const tmp = tempName(target);
  try {
    writeFileSync(tmp, bytes, { flag: 'wx', mode: 0o600 });
    chmodSync(tmp, file.mode);
    linkSync(tmp, target);
    return 'copied';
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return 'present';
    throw error;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // never made
    }
  }
}
