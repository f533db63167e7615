/**
 * A sealed staged release's packages into the root's content-addressed store (store/content-store.ts):
 * after the manifest is hashed and the tree sealed (no script runs any more, every file has its sealed
 * mode), each package the store has no index for gets its files linked into the store and its index
 * written. Only packages that run no install script of their own (a script makes its files private, and
 * may make them differ from one install to the next) and hold nothing but files and folders.
 *
 * The main package is the exception (addMainToStore): its own scripts run on every staging anyway, so its
 * index is what its tarball holds, and a staging that links it runs them again on the links (from-store.ts
 * mainFromStore says how that stays safe).
 */
import path from 'node:path';
import { crashPoint } from '../../platform/crashpoint.js';
import { withImmutableCleared } from '../../platform/immutable.js';
import { eachSync } from '../../platform/tree.js';
import { readPackageJsonSync } from '../../platform/package-json.js';
import {
  type Added,
  type IndexedFile,
  type StoreIndex,
  addBytes,
  addFile,
  holdsAll,
  prepareStore,
  readIndex,
  writeIndex,
} from '../../store/content-store.js';
import type { Layout } from '../../store/layout.js';
import type { ManifestEntry } from '../../store/manifest.js';
import type { TreeNode } from '../resolve/resolve-tree.js';
import { readTarballFiles } from '../unpack/read-entries.js';
import type { UnpackedEntry } from '../unpack/unpack.js';
import { hasEvent } from '../scripts/dep-scripts.js';
import { entriesByPackage } from './link-previous.js';

export interface StoredPackages {
  /** Packages whose index was written now. */
  packages: number;
  /** Files given a name in the store now (linked, or copied across filesystems). */
  files: number;
  copied: number;
}

/** Why a package cannot go into the store, or undefined. */
function unstorable(node: TreeNode, entries: readonly ManifestEntry[], pkgDir: string): string | undefined {
  if (!node.integrity || node.inBundle || node.isLink) return 'not a registry package';
  if (node.hasInstallScript) return 'install script';
  if (entries.some((entry) => entry.type === 'link')) return 'holds a symlink';
  const dir = path.join(pkgDir, node.location);
  try {
    const pkg = readPackageJsonSync(dir);
    if (['preinstall', 'install', 'postinstall'].some((event) => hasEvent(pkg, event, dir))) return 'install script';
  } catch {
    return 'no package.json';
  }
  return undefined;
}

/**
 * The index of the package at `location` from the release's manifest entries under it. Its own
 * `node_modules/` folder (there when packages are nested inside it) belongs to the tree, not to the package.
 */
export function packageIndexOf(integrity: string, location: string, entries: readonly ManifestEntry[]): StoreIndex {
  const index: StoreIndex = { integrity, files: {}, dirs: [] };
  const cut = location.length + 1;
  const own = `${location}/node_modules`;
  for (const entry of entries) {
    if (entry.type === 'dir' && entry.path !== own) index.dirs.push(entry.path.slice(cut));
    if (entry.type === 'file')
      index.files[entry.path.slice(cut)] = { sha256: entry.sha256, mode: entry.mode, size: entry.size };
  }
  return index;
}

/** Add the tree's packages the store lacks (each file as linkIntoStore puts it in). */
export async function addToStore(
  layout: Layout,
  input: { pkgDir: string; nodes: readonly TreeNode[]; manifest: readonly ManifestEntry[] },
): Promise<StoredPackages> {
  const { pkgDir, nodes, manifest } = input;
  const out: StoredPackages = { packages: 0, files: 0, copied: 0 };
  const byPackage = entriesByPackage([...manifest], new Set(nodes.map((node) => node.location)));
  const wanted: { index: StoreIndex; location: string }[] = [];
  for (const node of nodes) {
    const entries = byPackage.get(node.location) ?? [];
    if (entries.length === 0 || unstorable(node, entries, pkgDir)) continue;
    const known = await readIndex(layout, node.integrity!);
    if (known && holdsAll(layout, known)) continue;
    wanted.push({ index: packageIndexOf(node.integrity!, node.location, entries), location: node.location });
  }
  if (wanted.length === 0) return out;
  await prepareStore(layout);
  const files = wanted.flatMap(({ index, location }) =>
    Object.entries(index.files)
      .filter(([, file]) => file.size > 0)
      .map(([rel, file]) => ({ index, abs: path.join(pkgDir, location, rel), file })),
  );
  const failed = await linkIntoStore(layout, files, out);
  for (const { index } of wanted) {
    if (failed.has(index)) continue;
    await writeIndex(layout, index);
    out.packages++;
    crashPoint('store:index-written');
  }
  return out;
}

/**
 * Give each staged file a name in the store (store/content-store.ts addFile), counted in `out`; the indexes
 * one of whose files could not go in (a copy that did not hash to its name). A staged file that is an
 * immutable release's inode (linked from the previous release, or deduped against one) refuses link(2): the
 * attribute is lifted on exactly those for the moment, as for any link into an immutable release (their state
 * before it is among the inodes whose earlier releases' fingerprints the caller carries).
 */
async function linkIntoStore(
  layout: Layout,
  files: readonly { index: StoreIndex; abs: string; file: IndexedFile }[],
  out: StoredPackages,
): Promise<Set<StoreIndex>> {
  const failed = new Set<StoreIndex>();
  const retry: { index: StoreIndex; abs: string; file: IndexedFile }[] = [];
  const count = (index: StoreIndex, added: Added) => tally(out, failed, index, added);
  await eachSync(files, ({ index, abs, file }) => {
    const added = addFile(layout, abs, file);
    if (added === 'immutable') retry.push({ index, abs, file });
    else count(index, added);
  });
  if (retry.length > 0)
    await withImmutableCleared(
      retry.map(({ abs }) => abs),
      () =>
        eachSync(retry, ({ index, abs, file }) => {
          const added = addFile(layout, abs, file);
          count(index, added === 'immutable' ? 'mismatch' : added);
        }),
    );
  return failed;
}

/**
 * One file's outcome, counted in `out`; an index one of whose files did not go in joins `failed`. A copy counts as
 * one across filesystems unless `acrossFilesystems` is false (bytes read back from a tarball).
 */
function tally(
  out: StoredPackages,
  failed: Set<StoreIndex>,
  index: StoreIndex,
  added: Added,
  acrossFilesystems = true,
): void {
  if (added === 'mismatch') failed.add(index);
  if (added === 'linked' || added === 'copied') {
    out.files++;
    crashPoint('store:file-added');
  }
  if (added === 'copied' && acrossFilesystems) out.copied++;
}

/** The main package's tarball, as staging unpacked it (its registry integrity, and every entry it held). */
export interface MainTarball {
  integrity: string;
  /** The .tgz file, still in staging: the files the package's own scripts removed or rewrote are read back from it. */
  tarball: string;
  entries: readonly UnpackedEntry[];
}

/**
 * The main package's index: its tarball's own files and folders (npm's top folder dropped), whatever its
 * install scripts then did, for they run again on every staging that links it. A file's mode is its sealed
 * mode (write bits dropped); `sealedModes` gives the staged one where it survived (bin-links may have added x
 * bits). Undefined when the tarball holds a symlink: an index holds files and folders only.
 */
export function tarballIndexOf(
  integrity: string,
  entries: readonly UnpackedEntry[],
  sealedModes: ReadonlyMap<string, number> = new Map(),
): StoreIndex | undefined {
  const index: StoreIndex = { integrity, files: {}, dirs: [], tarball: true };
  for (const entry of entries) {
    if (entry.type === 'symlink' || (entry.type === 'file' && entry.sha256 === undefined)) return undefined;
    if (entry.type === 'dir') index.dirs.push(entry.path);
    else
      index.files[entry.path] = {
        sha256: entry.sha256!,
        mode: sealedModes.get(entry.path) ?? entry.mode & 0o555,
        size: entry.size,
      };
  }
  return index;
}

/**
 * Add the main package to the store, once its release is sealed: each of its tarball's files from the
 * sealed release where the release holds it unchanged, else (its own script removed or rewrote it) read
 * back from the tarball. Whether its index was written now.
 */
export async function addMainToStore(
  layout: Layout,
  input: { pkgDir: string; manifest: readonly ManifestEntry[]; main: MainTarball },
): Promise<StoredPackages> {
  const { pkgDir, manifest, main } = input;
  const out: StoredPackages = { packages: 0, files: 0, copied: 0 };
  const staged = new Map<string, Extract<ManifestEntry, { type: 'file' }>>();
  for (const entry of manifest) if (entry.type === 'file') staged.set(entry.path, entry);
  const unchanged = (rel: string, sha256: string | undefined) => staged.get(rel)?.sha256 === sha256;
  const sealedModes = new Map<string, number>();
  for (const entry of main.entries)
    if (entry.type === 'file' && unchanged(entry.path, entry.sha256))
      sealedModes.set(entry.path, staged.get(entry.path)!.mode);
  const index = tarballIndexOf(main.integrity, main.entries, sealedModes);
  if (!index) return out;
  const known = await readIndex(layout, index.integrity, true);
  if (known && holdsAll(layout, known)) return out;
  await prepareStore(layout);
  const stored = Object.entries(index.files).filter(([, file]) => file.size > 0);
  const fromRelease = stored.filter(([rel]) => sealedModes.has(rel));
  const fromTarball = stored.filter(([rel]) => !sealedModes.has(rel));
  const failed = await linkIntoStore(
    layout,
    fromRelease.map(([rel, file]) => ({ index, abs: path.join(pkgDir, rel), file })),
    out,
  );
  const bytes = await readTarballFiles(main.tarball, new Set(fromTarball.map(([rel]) => rel)));
  for (const [rel, file] of fromTarball) {
    const content = bytes.get(rel);
    // Written from bytes read back, not copied across filesystems: not counted as such a copy.
    tally(out, failed, index, content ? addBytes(layout, content, file) : 'mismatch', false);
  }
  if (failed.size > 0) return out;
  await writeIndex(layout, index);
  out.packages++;
  crashPoint('store:index-written');
  return out;
}
