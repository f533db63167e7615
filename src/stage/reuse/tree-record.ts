/**
 * A release's tree record: npm's hidden lockfile inside it, written when a release is staged and read
 * back from the newest retained release that has one, so the next staging links the packages that
 * did not change instead of extracting them again.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ManifestEntry } from '../../store/manifest.js';
import type { Layout } from '../../store/layout.js';
import { nodeMajor } from '../../platform/node.js';
import { readMarker } from '../../store/release.js';
import type { ResolvedTree, TreeNode } from '../resolve/resolve-tree.js';

/** npm's hidden lockfile inside the package root: the record the next staging compares against. */
export const TREE_RECORD = 'node_modules/.package-lock.json';

export interface PreviousRelease {
  dir: string;
  files: ManifestEntry[];
  node: string;
  packages: Record<string, { version?: string; integrity?: string }>;
  /** Its files carry the immutable attribute: linking to them means clearing it for the moment. */
  immutable: boolean;
}

async function readPrevious(marker: {
  dir: string;
  files: ManifestEntry[];
  node: string;
  immutable: boolean;
}): Promise<PreviousRelease | undefined> {
  try {
    const record = JSON.parse(await fs.readFile(path.join(marker.dir, TREE_RECORD), 'utf8')) as {
      packages?: PreviousRelease['packages'];
    };
    return { ...marker, packages: record.packages ?? {} };
  } catch {
    return undefined;
  }
}

/**
 * The release the next staging links from, of `earlier` (newest first): the newest retained one with a tree record,
 * whose unchanged packages are linked whole; else the newest with a marker and no record (an adopted release: `npm
 * install -g` keeps no hidden lockfile inside the package), with no package taken as unchanged, so that only the files
 * its manifest holds byte for byte (by sha256, size and sealed mode) are linked as they are extracted: an adoption
 * followed by an update (the first thing an auto-updater does) wrote all 41,040 files of openclaw 2026.9.6 afresh.
 */
export async function previousRelease(
  layout: Layout,
  earlier: readonly string[],
): Promise<PreviousRelease | undefined> {
  let unrecorded: PreviousRelease | undefined;
  for (const version of earlier) {
    const marker = await readMarker(layout, version);
    if (!marker) continue;
    const release = {
      dir: layout.release(version),
      files: marker.files,
      node: marker.node.version,
      immutable: marker.immutable === true,
    };
    const previous = await readPrevious(release);
    if (previous) return previous;
    unrecorded ??= { ...release, packages: {} };
  }
  return unrecorded;
}

/**
 * The package names in the tree record of the newest of `earlier` that has one (a location's last
 * `node_modules/` segment): the names the next resolution very likely asks the registry for.
 */
export async function recordedNames(layout: Layout, earlier: readonly string[]): Promise<string[]> {
  for (const version of earlier) {
    const record = await fs.readFile(path.join(layout.release(version), TREE_RECORD), 'utf8').then(
      (text) => JSON.parse(text) as { packages?: Record<string, unknown> },
      () => undefined,
    );
    if (!record) continue;
    const names = Object.keys(record.packages ?? {}).map((location) => {
      const at = location.lastIndexOf('node_modules/');
      return at < 0 ? '' : location.slice(at + 'node_modules/'.length);
    });
    return [...new Set(names.filter(Boolean))];
  }
  return [];
}

/**
 * The release a tree for Node `node` may link from: none when `previous` was built under another Node
 * major (its native builds may be for another ABI: everything is extracted fresh).
 */
export function linkableRelease(previous: PreviousRelease | undefined, node: string): PreviousRelease | undefined {
  return previous && nodeMajor(previous.node) === nodeMajor(node) ? previous : undefined;
}

/** The previous release holds this package at the same place, version and integrity: it can be linked. */
export function isReusable(node: TreeNode, previous: PreviousRelease | undefined): boolean {
  const old = previous?.packages[node.location];
  return Boolean(old && node.integrity && old.version === node.version && old.integrity === node.integrity);
}

/** Record the tree as npm's hidden lockfile does (lockfileVersion 3), sorted by location. */
export async function writeTreeRecord(pkgDir: string, tree: Pick<ResolvedTree, 'root' | 'deps'>): Promise<void> {
  const { root, deps } = tree;
  // npm install -g leaves a package without dependencies without node_modules/: so does staging.
  if (deps.length === 0) return;
  const packages: Record<string, unknown> = {};
  for (const node of [...deps].sort((a, b) => a.location.localeCompare(b.location))) {
    packages[node.location] = {
      version: node.version,
      resolved: node.resolved,
      integrity: node.integrity,
      ...(node.hasInstallScript ? { hasInstallScript: true } : {}),
    };
  }
  await fs.mkdir(path.join(pkgDir, 'node_modules'), { recursive: true });
  await fs.writeFile(
    path.join(pkgDir, TREE_RECORD),
    `${JSON.stringify({ name: root.name, version: root.version, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`,
  );
}
