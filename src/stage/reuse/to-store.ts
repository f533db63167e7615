/**
 * A sealed staged release's packages into the root's content-addressed store (store/content-store.ts):
 * after the manifest is hashed and the tree sealed (no script runs any more, every file has its sealed
 * mode), each package the store has no index for gets its files linked into the store and its index
 * written. Only packages that run no install script of their own (a script makes its files private, and
 * may make them differ from one install to the next) and hold nothing but files and folders.
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
  addFile,
  holdsAll,
  prepareStore,
  readIndex,
  writeIndex,
} from '../../store/content-store.js';
import type { Layout } from '../../store/layout.js';
import type { ManifestEntry } from '../../store/manifest.js';
import type { TreeNode } from '../resolve/resolve-tree.js';
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

/**
 * Add the tree's packages the store lacks. A staged file that is an immutable release's inode (linked
 * from the previous release, or deduped against one) refuses link(2): the attribute is lifted on exactly
 * those for the moment, as for any link into an immutable release (their state before it is among the
 * inodes whose earlier releases' fingerprints the caller carries).
 */
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
  const failed = new Set<StoreIndex>();
  const retry: { index: StoreIndex; abs: string; file: IndexedFile }[] = [];
  const count = (index: StoreIndex, added: Added) => {
    if (added === 'mismatch') failed.add(index);
    if (added === 'linked' || added === 'copied') {
      out.files++;
      crashPoint('store:file-added');
    }
    if (added === 'copied') out.copied++;
  };
  const files = wanted.flatMap(({ index, location }) =>
    Object.entries(index.files)
      .filter(([, file]) => file.size > 0)
      .map(([rel, file]) => ({ index, abs: path.join(pkgDir, location, rel), file })),
  );
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
  for (const { index } of wanted) {
    if (failed.has(index)) continue;
    await writeIndex(layout, index);
    out.packages++;
    crashPoint('store:index-written');
  }
  return out;
}
