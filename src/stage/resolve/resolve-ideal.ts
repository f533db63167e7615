/**
 * The ideal tree `npm install -g <spec>` builds, as arborist builds it: global mode, an empty prefix
 * (the tarball's own .npmrc and lockfile are never read, as `npm install -g` never reads them), and
 * optional packages for other platforms dropped as npm's reify drops them. Runs either in the resolver
 * child (resolve-child.ts, on the configured Node) or in our own process when the configured Node is
 * ours (resolve-tree.ts): arborist then decides engine-gated versions from `nodeVersion`, the
 * configured Node's version, exactly as it does from `process.version` in the child.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
// Before pacote and arborist load: what they load but a resolution never uses, on first use (sigstore: provenance).
import '../../registry/lazy-pacote.js';
import './lazy-arborist.js';
// @ts-expect-error arborist ships no types
import Arborist from '@npmcli/arborist';
// @ts-expect-error no types
import optionalSet from '@npmcli/arborist/lib/optional-set.js';
// @ts-expect-error no types
import { checkPlatform } from 'npm-install-checks';
import { type Guess, type Manifest, PacketCache, prefetchPackuments } from './resolve-prefetch.js';

/** One package of the tree, as staging uses it. */
export interface TreeNode {
  location: string;
  name: string;
  version: string;
  integrity: string | null;
  resolved: string | null;
  hasInstallScript: boolean;
  inBundle: boolean;
  isLink: boolean;
  hasShrinkwrap: boolean;
  /** It carries a registry signature (verified by pacote when `verify` asked for it). */
  signed?: boolean;
}

export interface IdealOptions {
  spec: string;
  /** npm's flat options (registry, auth, omit, before…), already as arborist takes them. */
  flat: Record<string, unknown>;
  /** The package's packument the parent resolved it from, under pacote's cache key: not fetched again. */
  packument?: { key: string; document: unknown } | undefined;
  /** The Node the tree is for, when it is not this process's (`v24.1.0`). @default process.version */
  nodeVersion?: string | undefined;
  /** Names whose packuments are requested at once (the previous release's packages; resolve-prefetch.ts). */
  seeds?: readonly string[] | undefined;
  /** Told each dependency version the prefetch guesses (in process only: a child cannot call back). */
  onGuess?: ((guess: Guess) => void) | undefined;
  /** The package's manifest when the spec is a tarball: the prefetch starts from its dependencies. */
  rootManifest?: Manifest | undefined;
}

/** What the resolution yields, locations as arborist gives them (`node_modules/<pkg>/…`). */
export interface RawTree {
  node: string;
  platform: string;
  arch: string;
  timing: { buildMs: number; prefetched: number };
  nodes: TreeNode[];
  /** The packuments arborist built the tree from (pacote's cache keys, `full:<url>`). */
  packuments: string[];
}

export async function resolveIdeal(options: IdealOptions): Promise<RawTree> {
  const nodeVersion = options.nodeVersion ?? process.version;
  const top = await fs.mkdtemp(path.join(os.tmpdir(), 'rs-resolve-'));
  const packumentCache = new PacketCache();
  if (options.packument) packumentCache.set(options.packument.key, options.packument.document);
  let prefetch: ReturnType<typeof prefetchPackuments> | undefined;
  try {
    const started = performance.now();
    const arb = new Arborist({ ...options.flat, nodeVersion, path: top, global: true, packumentCache });
    prefetch = prefetchPackuments(options.spec, arb.options, packumentCache, {
      seeds: options.seeds,
      onGuess: options.onGuess,
      rootManifest: options.rootManifest,
    });
    const tree = await arb.buildIdealTree({ add: [options.spec] });
    const timing = { buildMs: Math.round(performance.now() - started), prefetched: prefetch.requests };
    return {
      node: nodeVersion,
      platform: process.platform,
      arch: process.arch,
      timing,
      nodes: treeNodes(tree, options),
      packuments: [...packumentCache.asked],
    };
  } finally {
    // Guesses arborist did not need are not fetched any more (in our process they would go on beside staging).
    prefetch?.stop();
    packumentCache.clear();
    await fs.rm(top, { recursive: true, force: true });
  }
}

interface ArboristNode {
  isRoot: boolean;
  optional: boolean;
  location: string;
  name: string;
  packageName?: string;
  version: string;
  integrity?: string;
  resolved?: string;
  hasInstallScript?: boolean;
  inBundle?: boolean;
  isLink?: boolean;
  hasShrinkwrap?: boolean;
  package?: {
    scripts?: Record<string, string>;
    _signatures?: unknown[];
    dist?: { signatures?: unknown[] };
  };
}

function treeNodes(tree: { inventory: Map<string, ArboristNode> }, options: IdealOptions): TreeNode[] {
  // The ideal tree keeps optional packages for other platforms; npm's reify drops each, with the
  // packages only it needed (optionalSet), when checkPlatform fails. Do the same.
  const dropped = new Set<unknown>();
  const { os: osName, cpu, libc } = options.flat;
  for (const node of tree.inventory.values()) {
    if (!node.optional || node.isRoot) continue;
    try {
      checkPlatform(node.package, false, { os: osName, cpu, libc });
    } catch {
      for (const gone of optionalSet(node)) dropped.add(gone);
    }
  }
  const nodes: TreeNode[] = [];
  for (const node of tree.inventory.values()) {
    if (node.isRoot || dropped.has(node)) continue;
    const scripts = node.package?.scripts;
    nodes.push({
      location: node.location,
      name: node.packageName ?? node.name,
      version: node.version,
      integrity: node.integrity ?? null,
      resolved: node.resolved ?? null,
      hasInstallScript: Boolean(
        node.hasInstallScript || scripts?.preinstall || scripts?.install || scripts?.postinstall,
      ),
      inBundle: Boolean(node.inBundle),
      isLink: Boolean(node.isLink),
      hasShrinkwrap: Boolean(node.hasShrinkwrap),
      // pacote verified any signature it carries when asked to (verifySignatures); whether it has one is ours to check.
      signed: (node.package?._signatures ?? node.package?.dist?.signatures ?? []).length > 0,
    });
  }
  return nodes;
}
