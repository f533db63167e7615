/**
 * Hardlinks into a retained release: whole packages that did not change (file by file, with the
 * immutable attribute cleared on exactly the inodes linked to, for the moment), and the files of new
 * packages the previous release holds byte for byte, copied (and checked) where a link cannot be.
 */
import { createHash } from 'node:crypto';
import { constants, linkSync, mkdirSync, symlinkSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../../model/errors.js';
import type { ManifestEntry } from '../../store/manifest.js';
import { withImmutableCleared } from '../../platform/immutable.js';
import { eachSync, mapLimit } from '../../platform/tree.js';
import type { TreeNode } from '../resolve/resolve-tree.js';
import type { PreviousRelease } from './tree-record.js';
import { type Linked, type SharedFile, statSources } from './shared-inodes.js';
import type { ExtractedPackages } from './extract-packages.js';
import type { DeferredFile } from '../unpack/index.js';
import type { LinkableRelease } from '../unpack/linkable.js';
import type { ProgressEvent } from '../../model/runtime.js';

const LINK_PARALLELISM = 32;

/**
 * The manifest's entries of each package in `locations`: under its folder, not inside its own
 * node_modules (the same rule per package as a prefix scan, in one pass over the manifest).
 */
export function entriesByPackage(files: ManifestEntry[], locations: ReadonlySet<string>): Map<string, ManifestEntry[]> {
  const out = new Map<string, ManifestEntry[]>();
  const marker = 'node_modules/';
  for (const entry of files) {
    const p = entry.path;
    for (let at = p.indexOf(marker); at >= 0; at = p.indexOf(marker, at + 1)) {
      if (at > 0 && p[at - 1] !== '/') continue;
      const start = at + marker.length;
      let end = p.indexOf('/', start);
      if (end >= 0 && p[start] === '@') end = p.indexOf('/', end + 1);
      if (end < 0) break;
      const location = p.slice(0, end);
      if (!locations.has(location) || p.startsWith(`${location}/node_modules/`)) continue;
      const list = out.get(location);
      if (list) list.push(entry);
      else out.set(location, [entry]);
      break;
    }
  }
  return out;
}

export interface LinkPackagesOptions {
  pkgDir: string;
  previous: PreviousRelease;
  /** The packages to link: unchanged since `previous`. */
  nodes: TreeNode[];
  /** Runs while the linked inodes are still writable, before the immutable attribute is set again. */
  beforeSeal: () => Promise<void>;
  /** The packages in `later` (nested inside one being extracted) are linked once `until` settles. */
  wait?: { later: ReadonlySet<string>; until: Promise<unknown> } | undefined;
}

/**
 * Link unchanged packages from `previous`. `beforeSeal` runs once every link is made, before the
 * earlier release's inodes get their attribute back (fast.ts makes the reused packages' bin symlinks
 * there). The baseline ctimes are taken by `baseline` once every link of this staging is made.
 */
export async function linkPackages(options: LinkPackagesOptions): Promise<Linked> {
  const { pkgDir, previous, nodes, beforeSeal, wait } = options;
  const byPackage = entriesByPackage(previous.files, new Set(nodes.map((node) => node.location)));
  const entriesFor = (list: TreeNode[]) =>
    list.flatMap((node) => [
      { path: node.location, type: 'dir' } as ManifestEntry,
      ...(byPackage.get(node.location) ?? []),
    ]);
  const now = entriesFor(nodes.filter((node) => !wait?.later.has(node.location)));
  const later = entriesFor(nodes.filter((node) => wait?.later.has(node.location)));
  // link(2) to an immutable inode is EPERM even for root: clear the attribute on exactly the inodes
  // linked to, under the root's lock, and set it again before any script runs.
  const linkedFiles = [...now, ...later].filter(
    (entry): entry is Extract<ManifestEntry, { type: 'file' }> => entry.type === 'file',
  );
  const allSources = linkedFiles.map((entry) => path.join(previous.dir, entry.path));
  const inodes = await statSources(allSources);
  const sources = previous.immutable ? allSources : [];
  // Batched: each link is a syscall of a few microseconds, a promise each (a thread-pool hop, an
  // allocation, a turn of the loop) cost more than the link; in batches the loop still gets its turns
  // (the main package's unpack and the extraction of new packages run beside this).
  const linkAll = async (entries: ManifestEntry[]) => {
    await eachSync(entries, (entry) => {
      if (entry.type === 'dir') mkdirSync(path.join(pkgDir, entry.path), { recursive: true });
    });
    await eachSync(entries, (entry) => {
      const abs = path.join(pkgDir, entry.path);
      if (entry.type === 'link') symlinkSync(entry.target, abs);
      if (entry.type === 'file') linkSync(path.join(previous.dir, entry.path), abs);
    });
  };
  await withImmutableCleared(sources, async () => {
    await linkAll(now);
    if (later.length > 0) {
      // Packages nested inside a package being extracted: the unpacker wants its folder to itself.
      await wait!.until;
      await linkAll(later);
    }
    await beforeSeal();
  });
  return { files: linkedFiles.map((entry) => ({ path: entry.path, sha256: entry.sha256, size: entry.size })), inodes };
}

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const NOT_LINKABLE = new Set(['EMLINK', 'EXDEV', 'EPERM', 'ENOENT']);

/**
 * Make the deferred files of extraction: a hardlink to the earlier release's file (never opened for
 * writing, never chmod'ed), or where it must be private or a link is impossible (EMLINK, EPERM…), a
 * copy of it written as the tarball would have (O_EXCL|O_NOFOLLOW, its own mode), read back from the
 * source and checked against the tarball's sha256: a changed source is refused, never copied.
 */
export async function linkExtracted(
  pkgDir: string,
  previous: PreviousRelease,
  extracted: Pick<ExtractedPackages, 'deferred' | 'private'>,
): Promise<Linked> {
  const toLink = extracted.deferred.filter((file) => !extracted.private.has(file.path));
  const copies = extracted.deferred.filter((file) => extracted.private.has(file.path));
  const allSources = [...new Set(toLink.map((file) => file.source))];
  const inodes = await statSources(allSources);
  const linked: SharedFile[] = [];
  const sources = previous.immutable ? allSources : [];
  await withImmutableCleared(sources, () =>
    eachSync(toLink, (file) => {
      try {
        linkSync(file.source, path.join(pkgDir, file.path));
        linked.push({ path: file.path, sha256: file.sha256, size: file.size });
      } catch (error) {
        if (!NOT_LINKABLE.has(errnoOf(error) ?? '')) throw error;
        copies.push(file);
      }
    }),
  );
  await mapLimit(copies, LINK_PARALLELISM, (file) => copyChecked(pkgDir, file));
  return { files: linked, inodes };
}

/**
 * The previous release's files the package's own may be hardlinked to instead of written where they are byte
 * for byte the same (openclaw 9.5 -> 9.6: 3,026 of 12,583), its node_modules/ left out: an immutable release
 * only. Its files then carry the attribute in the staging too, so a script of the package that writes, chmods
 * or removes one fails, even as root, and the fast path is given up for a full install on private files
 * (fast-or-full.ts); a release with mode bits only would let the owner's script change it through the link
 * (those files are deduped against it once sealed instead).
 */
export function ownFilesLinkable(previous: PreviousRelease | undefined): LinkableRelease | undefined {
  if (!previous?.immutable) return undefined;
  return { dir: previous.dir, files: previous.files.filter((entry) => !entry.path.startsWith('node_modules/')) };
}

/** The package's own files its unpack did not write (ownFilesLinkable), linked to the release that holds them. */
export async function linkOwnDeferred(
  pkgDir: string,
  deferred: DeferredFile[],
  previousP: Promise<PreviousRelease | undefined>,
  progress: (event: ProgressEvent) => void,
): Promise<Linked | undefined> {
  // Deferred only when it was read.
  const previous = deferred.length > 0 ? await previousP : undefined;
  if (!previous) return undefined;
  const linked = await linkExtracted(pkgDir, previous, { deferred, private: new Set() });
  const bytes = linked.files.reduce((sum, file) => sum + file.size, 0);
  progress({
    phase: 'extract',
    message: `${linked.files.length} of the package's own files (${bytes} bytes) linked to releases/${path.basename(previous.dir)}, which holds them byte for byte: not written`,
  });
  return linked;
}

async function copyChecked(pkgDir: string, file: DeferredFile): Promise<void> {
  const bytes = await fs.readFile(file.source).catch(() => undefined);
  if (!bytes || createHash('sha256').update(bytes).digest('hex') !== file.sha256) {
    throw new ReleaseSwitcherError(
      'RELEASE_TAMPERED',
      `${file.source} no longer holds what its release's manifest says (needed for ${file.path}).`,
      {
        hint: `Run release-switcher doctor; reinstall or prune the release that holds it. Nothing was installed.`,
      },
    );
  }
  const handle = await fs.open(path.join(pkgDir, file.path), WRITE_FLAGS, file.mode);
  try {
    await handle.writeFile(bytes);
    if (((await handle.stat()).mode & 0o777) !== file.mode) await handle.chmod(file.mode);
  } finally {
    await handle.close();
  }
}
