/**
 * The fast path's packages placed under a folder (the package root, or one beside it: place-beside.ts),
 * before any script runs: the unchanged ones linked from the previous release, those it lacks and the
 * store holds linked from the store, the others extracted from the npm cache, side by side.
 */
import type { Layout } from '../store/layout.js';
import type { ResolvedTree, TreeNode } from './resolve/resolve-tree.js';
import { type ExtractedPackages, extractPackages } from './reuse/extract-packages.js';
import { type FromStore, placeFromStore, storedNodes } from './reuse/from-store.js';
import { linkExtracted, linkPackages } from './reuse/link-previous.js';
import type { Linked } from './reuse/shared-inodes.js';
import { type PreviousRelease, isReusable, linkableRelease } from './reuse/tree-record.js';
import { linkReusedBins } from './scripts/dep-scripts.js';

/** What placing the tree's packages needs: where, what, and the release to link from. */
export interface PlaceInput {
  /** The folder whose node_modules/ receives the packages: the package root, or a folder beside it (placeBeside). */
  root: string;
  /** The root's layout: its content-addressed store is a source of packages. */
  layout: Layout;
  tree: ResolvedTree;
  previous: PreviousRelease | undefined;
  pacoteOptions: Record<string, unknown>;
  signal?: AbortSignal | undefined;
  /** Whether a package's tarball was fetched while the tree resolved (fetch-ahead.ts): the extraction waits for that download. */
  fetchedAhead?: ((node: TreeNode) => Promise<boolean>) | undefined;
}

/** The tree's packages on disk under `root`, before any script: what placePackages did, for settlePlaced. */
export interface Placed {
  /** The release linked from (the previous one, when built under the same Node major). */
  usable: PreviousRelease | undefined;
  reuse: TreeNode[];
  fresh: TreeNode[];
  extracted: ExtractedPackages;
  /** Unchanged packages linked from `usable`. */
  reusedLinks: Linked | undefined;
  /** Files of new packages `usable` holds byte for byte, linked to it. */
  same: Linked | undefined;
  /** Packages the previous release lacks and the store holds, linked from it. */
  stored: { nodes: TreeNode[]; links: FromStore } | undefined;
}

/**
 * The tree's packages on disk under `root`, before any script: the unchanged ones linked from the
 * previous release (whose fingerprints vouch for them), those it lacks and the store holds linked from
 * the store, the others (`fresh`) extracted from the npm cache.
 */
export async function placePackages(input: PlaceInput): Promise<Placed> {
  const { tree, previous, root } = input;
  const usable = linkableRelease(previous, tree.node);
  const reuse = tree.deps.filter((node) => isReusable(node, usable));
  const fromStore = await storedNodes(
    input.layout,
    tree.deps.filter((node) => !reuse.includes(node)),
  );
  const storedAt = new Set(fromStore.map(({ node }) => node.location));
  const fresh = tree.deps.filter((node) => !reuse.includes(node) && !storedAt.has(node.location));
  // Linking and extracting touch different packages: they run side by side. Extraction never writes
  // through a link (the unpacker replaces, never opens an existing file). Files of new packages that
  // the previous release holds byte for byte are not written: they are linked once both are done,
  // and the baseline ctimes are taken after that (linking, bins and the immutable attribute all move them).
  const extractedP = extractPackages(fresh, {
    pkgDir: root,
    pacoteOptions: input.pacoteOptions,
    signal: input.signal,
    previous: usable,
    fetchedAhead: input.fetchedAhead,
  });
  // A linked package inside a new one waits for the new one's extraction (its folder must start empty).
  const freshAt = new Set(fresh.map((node) => node.location));
  const later = new Set(
    reuse.filter((node) => ancestors(node.location).some((at) => freshAt.has(at))).map((node) => node.location),
  );
  const linkedP =
    usable && reuse.length > 0
      ? linkPackages({
          pkgDir: root,
          previous: usable,
          nodes: reuse,
          beforeSeal: () => linkReusedBins(root, reuse),
          wait: { later, until: extractedP },
        })
      : Promise.resolve(undefined);
  // From the store likewise, once the links from the previous release are made (placeFromStore says why).
  const storedP = placeFromStore(input.layout, root, fromStore, {
    nested: (location) => ancestors(location).some((at) => freshAt.has(at)),
    before: linkedP,
    extracted: extractedP,
  });
  const [linkedR, extractedR, storedR] = await Promise.allSettled([linkedP, extractedP, storedP]);
  if (linkedR.status === 'rejected') throw linkedR.reason;
  if (extractedR.status === 'rejected') throw extractedR.reason;
  if (storedR.status === 'rejected') throw storedR.reason;
  const extracted = extractedR.value;
  const same = usable && extracted.deferred.length > 0 ? await linkExtracted(root, usable, extracted) : undefined;
  const storedNodesList = fromStore.map(({ node }) => node);
  // Their files carry the modes bin-links gave them when the store took them: only the bin links are made.
  if (storedNodesList.length > 0) await linkReusedBins(root, storedNodesList);
  const stored = storedR.value ? { nodes: storedNodesList, links: storedR.value } : undefined;
  return { usable, reuse, fresh, extracted, reusedLinks: linkedR.value, same, stored };
}

/** `node_modules/a/node_modules/b` → [`node_modules/a`]. */
function ancestors(location: string): string[] {
  const out: string[] = [];
  for (let at = location.indexOf('/node_modules/'); at >= 0; at = location.indexOf('/node_modules/', at + 1))
    out.push(location.slice(0, at));
  return out;
}
