/**
 * Packages staged from the root's content-addressed store (store/content-store.ts): a package whose
 * integrity has an index there, every file of it present, is hardlinked file by file from the store:
 * nothing is extracted or hashed, the manifest takes each file's sha256 from the index. The store's
 * files carry their sealed modes and, once a release that links them is sealed, the immutable
 * attribute: link(2) to such an inode needs it lifted for the moment, as for a link into a release.
 *
 * What the store says is trusted no further than this: the new release records a fingerprint for a file
 * it linked from the store only where an earlier release's record vouches for that inode
 * (store/store-proof.ts); any other its first activation re-hashes against the manifest (verify-release),
 * and a store file whose content is not what its name says is refused there.
 * Across filesystems (a store on another one than staging: EXDEV) each file is copied instead, checked
 * against the index as it is read.
 */
import {
  type BigIntStats,
  closeSync,
  constants,
  fchmodSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../../model/errors.js';
import { withImmutableCleared } from '../../platform/immutable.js';
import { eachSync } from '../../platform/tree.js';
import { type StoreIndex, heldFiles, readIndex } from '../../store/content-store.js';
import { type LinkedInode, fingerprintOf, inodeOf, sha256Of } from '../../store/fingerprints.js';
import type { Layout } from '../../store/layout.js';
import type { TreeNode } from '../resolve/resolve-tree.js';
import type { Linked, SharedFile } from './shared-inodes.js';

export interface StoredNode {
  node: TreeNode;
  index: StoreIndex;
  /** Its store files with their state when the store was found to hold them all (content-store.ts heldFiles). */
  held: Map<string, BigIntStats>;
}

/** Of `nodes`, those the store holds whole (an index for their integrity, every file present). */
export async function storedNodes(layout: Layout, nodes: readonly TreeNode[]): Promise<StoredNode[]> {
  const out: StoredNode[] = [];
  for (const node of nodes) {
    // Never a package with install scripts: its files are private to each release (the store never takes one).
    if (!node.integrity || node.hasInstallScript || node.inBundle || node.isLink) continue;
    const index = await readIndex(layout, node.integrity);
    const held = index && heldFiles(layout, index);
    if (held) out.push({ node, index, held });
  }
  return out;
}

export interface FromStore extends Linked {
  /** Release paths linked to store inodes that carry the immutable attribute. */
  immutable: Set<string>;
  /** The store file each release path was linked from (what is taken out of the store if a script wrote through it). */
  sources: Map<string, string>;
  /** Files copied from the store (another filesystem, an inode with all the links it may have, or a release's: privateShared). */
  copied: number;
  bytes: number;
}

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const COPY_INSTEAD = new Set(['EXDEV', 'EMLINK']);

/**
 * Link (or copy) each stored package's files under `root`; its folders made first. An immutable store
 * inode (a sealed release's) is linked with the attribute lifted for the moment (as a link into a release is).
 * `privateShared`: a store inode another name shares (a release's, as its link count says) that turns out not
 * to be immutable is copied instead (mainFromStore says why).
 */
export async function linkFromStore(
  layout: Layout,
  root: string,
  stored: readonly (Pick<StoredNode, 'index' | 'held'> & { node: Pick<TreeNode, 'location'> })[],
  options: { privateShared?: boolean } = {},
): Promise<FromStore> {
  const files: { rel: string; abs: string; source: string; sha256: string; size: number; mode: number }[] = [];
  const empty: { abs: string; mode: number }[] = [];
  // Each folder made once (a package's files mostly share a few): tens of thousands of mkdir calls cost more than the links.
  const made = new Set<string>();
  const mkdir = (dir: string) => {
    if (made.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    made.add(dir);
  };
  await eachSync(stored, ({ node, index }) => {
    mkdir(path.join(root, node.location));
    for (const dir of index.dirs) mkdir(path.join(root, node.location, dir));
    for (const [rel, file] of Object.entries(index.files)) {
      const abs = path.join(root, node.location, rel);
      mkdir(path.dirname(abs));
      if (file.size === 0) empty.push({ abs, mode: file.mode });
      else
        files.push({
          rel: node.location === '' ? rel : `${node.location}/${rel}`,
          abs,
          source: layout.storeFile(file.sha256, file.mode),
          sha256: file.sha256,
          size: file.size,
          mode: file.mode,
        });
    }
  });
  // Each store inode's state before anything here touches it, as the store was found to hold it (no stat again).
  // With privateShared, the store inodes another name shares (their link count says so).
  const inodes = new Map<string, LinkedInode>();
  const shared = new Set<string>();
  for (const { held } of stored)
    for (const [source, before] of held) {
      inodes.set(inodeOf(fingerprintOf(before)), { source, before });
      if (options.privateShared && before.nlink > 1n) shared.add(source);
    }
  const linked: SharedFile[] = [];
  const immutable = new Set<string>();
  const retry: typeof files = [];
  const copies: typeof files = [];
  const tryLink = (file: (typeof files)[number], again: boolean) => {
    try {
      linkSync(file.source, file.abs);
      if (!again && shared.has(file.source)) {
        // Linked at the first try: not immutable. A private copy instead (a release's inode stays its own).
        unlinkSync(file.abs);
        copies.push(file);
        return;
      }
      linked.push({ path: file.rel, sha256: file.sha256, size: file.size });
      if (again) immutable.add(file.rel);
    } catch (error) {
      const code = errnoOf(error) ?? '';
      if (code === 'EPERM' && !again) retry.push(file);
      else if (COPY_INSTEAD.has(code)) copies.push(file);
      else throw error;
    }
  };
  await eachSync(files, (file) => tryLink(file, false));
  // EPERM: an immutable inode (a sealed release links it): lifted on exactly those, linked, set again.
  if (retry.length > 0)
    await withImmutableCleared([...new Set(retry.map((file) => file.source))], () =>
      eachSync(retry, (file) => tryLink(file, true)),
    );
  await eachSync(copies, (file) => copyChecked(file));
  await eachSync(empty, ({ abs, mode }) => writeSealed(abs, Buffer.alloc(0), mode));
  const bytes = files.reduce((sum, file) => sum + file.size, 0);
  const sources = new Map(files.map((file) => [file.rel, file.source]));
  return { files: linked, inodes, immutable, sources, copied: copies.length, bytes };
}

/**
 * Link the stored packages under `root`: those nested inside a package being extracted once it is (the
 * unpacker wants its folder to itself), and all of them after `before` (the links from the previous
 * release): both may lift the immutable attribute of one inode (the same file in two packages), and one
 * setting it again under the other's link would make that link fail.
 */
export async function placeFromStore(
  layout: Layout,
  root: string,
  stored: readonly StoredNode[],
  wait: { nested: (location: string) => boolean; before: Promise<unknown>; extracted: Promise<unknown> },
): Promise<FromStore | undefined> {
  if (stored.length === 0) return undefined;
  await wait.before.catch(() => undefined);
  const first = await linkFromStore(
    layout,
    root,
    stored.filter(({ node }) => !wait.nested(node.location)),
  );
  const later = stored.filter(({ node }) => wait.nested(node.location));
  if (later.length === 0) return first;
  await wait.extracted.catch(() => undefined);
  const second = await linkFromStore(layout, root, later);
  return {
    files: [...first.files, ...second.files],
    inodes: new Map([...first.inodes, ...second.inodes]),
    immutable: new Set([...first.immutable, ...second.immutable]),
    sources: new Map([...first.sources, ...second.sources]),
    copied: first.copied + second.copied,
    bytes: first.bytes + second.bytes,
  };
}

/** A private copy of a store file, written as the unpacker writes one, refused when it is not what the index says. */
function copyChecked(file: { source: string; abs: string; sha256: string; mode: number; rel: string }): void {
  const bytes = readFileSync(file.source);
  if (sha256Of(bytes) !== file.sha256) {
    throw new ReleaseSwitcherError(
      'RELEASE_TAMPERED',
      `${file.source} (the store's copy of ${file.rel}) does not hold what its name says.`,
      {
        hint: 'Run release-switcher doctor --deep: it names the store files that changed; remove them (or the whole store/ folder, which is rebuilt as releases are staged). Nothing was installed.',
      },
    );
  }
  writeSealed(file.abs, bytes, file.mode);
}

function writeSealed(abs: string, bytes: Buffer, mode: number): void {
  const fd = openSync(abs, WRITE_FLAGS, 0o600);
  try {
    if (bytes.length > 0) writeFileSync(fd, bytes);
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}

/** The main package placed from the store: its links (watched like any shared file), and what an unpack would have counted. */
export interface MainFromStore {
  links: FromStore;
  count: number;
  bytes: number;
}

/**
 * The main package linked from the store into `pkgDir` (absent) when the store holds its tarball's index whole
 * (to-store.ts addMainToStore): nothing downloaded or unpacked. Its own install scripts then run on the links,
 * as npm runs them on the files it extracted, which is what makes this safe enough to do:
 * - a store file has no write bits: a script that writes its own file fails as it would on a sealed release;
 * - one that writes through a link anyway (root, or a chmod first) is seen once the scripts are done (the
 *   inode moved): the fast path is given up and the store's name for that file taken away (fast-or-full.ts);
 * - a script may remove its own files (openclaw's postinstall removes the marker its tarball ships): only a name
 *   in the staging goes, the content stays;
 * - a file whose store inode an earlier release shares (the files it holds byte for byte) must not let a script
 *   change that release: a chmod or a write through the link would. Immutable (root), it is linked with the
 *   attribute lifted for the moment, as a dependency's is: the link carries the attribute, so a script that
 *   writes, chmods or removes it fails, even as root, and the fast path is given up for a full install on the
 *   tarball's own files (fast-or-full.ts), which is what npm would have run the script on (a file a script
 *   removes is in no release of its version, so one an earlier release kept byte for byte is rare; copying
 *   every such file instead cost more: openclaw 9.5 -> 9.6, 3,041 files, 1.4 s). Not immutable (a normal
 *   account: mode bits only, which the owner's script may change), it is copied, checked against its name.
 */
export async function mainFromStore(
  layout: Layout,
  integrity: string | null,
  pkgDir: string,
): Promise<MainFromStore | undefined> {
  if (!integrity) return undefined;
  const index = await readIndex(layout, integrity, true);
  const held = index && heldFiles(layout, index);
  if (!index || !held) return undefined;
  const links = await linkFromStore(layout, pkgDir, [{ node: { location: '' }, index, held }], {
    privateShared: true,
  });
  return { links, count: Object.keys(index.files).length, bytes: links.bytes };
}
