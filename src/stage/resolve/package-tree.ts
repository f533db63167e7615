/**
 * The tree of a package's dependencies as staging asks for it: what it is resolved from (a registry
 * version, or a tarball: a file or a URL, as `npm install -g <spec>` resolves each), kept from an
 * earlier resolution while it still holds (tree-cache.ts), else resolved by arborist, a tarball's from a
 * stand-in holding just its package.json (stand-in.ts).
 */
import path from 'node:path';
import npa from 'npm-package-arg';
import type { ResolvedRuntime } from '../../model/runtime.js';
import type { NodeRuntime } from '../../platform/node.js';
import type { ResolvedPackage } from '../../registry/fetch.js';
import type { Guess, Manifest } from './resolve-prefetch.js';
import type { ResolvedTree } from './resolve-tree.js';
import { withRealRoot, writeStandIn } from './stand-in.js';
import { type TreeAhead, rememberTree } from './tree-ahead.js';
import { resolveTreeKept, treeKey } from './tree-cache.js';

export interface Resolution {
  spec: string;
  from: 'registry' | 'tarball';
}

/**
 * What its tree is resolved from: a registry version from its packument, a tarball (a file or a URL)
 * from its own package.json, its dependencies from the registry either way. The fast path then places
 * them alike; what it cannot do (a git or file dependency, a shrinkwrap) falls back to a full install
 * as before. Undefined: nothing to resolve (a full install).
 */
export function resolutionOf(pkg: ResolvedPackage): Resolution | undefined {
  let type: string;
  try {
    type = npa(pkg.spec).type;
  } catch {
    return undefined;
  }
  if (['tag', 'version', 'range'].includes(type)) return { spec: `${pkg.name}@${pkg.version}`, from: 'registry' };
  // The file's absolute path or the URL, as pacote resolved it (a relative path would be read from our cwd).
  if (type === 'file' && path.isAbsolute(pkg.resolved)) return { spec: pkg.resolved, from: 'tarball' };
  if (type === 'remote' && /^https?:/.test(pkg.resolved)) return { spec: pkg.resolved, from: 'tarball' };
  return undefined;
}

export interface PackageTreeInput {
  pkg: ResolvedPackage;
  resolution: Resolution;
  runtime: ResolvedRuntime;
  registry: string | null;
  /** The configured Node (the tree is for it). */
  node: NodeRuntime;
  /** A folder of the staging's own, for the stand-in tarball. */
  scratch: string;
  seeds: readonly string[];
  signal: AbortSignal;
  onGuess: (guess: Guess) => void;
  /** The tree guessed for the spec (tree-ahead.ts); the key used is remembered in it for the next time. */
  treeAhead?: TreeAhead | undefined;
  /**
   * Told the tree kept for this package once it is read, before it is known to hold (tree-cache.ts): what the
   * resolution then gives has these very `deps` when it holds.
   */
  onKept?: ((tree: ResolvedTree) => void) | undefined;
}

export async function resolvePackageTree(input: PackageTreeInput): Promise<ResolvedTree> {
  const { pkg, resolution, runtime, node } = input;
  const tarball = resolution.from === 'tarball';
  const real = { resolved: pkg.resolved, integrity: pkg.integrity };
  const spec = tarball ? await writeStandIn(input.scratch, pkg.manifest as Record<string, unknown>) : resolution.spec;
  const key = treeKey({
    name: pkg.name,
    version: pkg.version,
    integrity: pkg.integrity,
    from: resolution.from,
    nodeVersion: node.version,
    npmConfig: runtime.npmConfig,
    registry: input.registry,
    verify: pkg.dependencySignatures?.pacote,
  });
  const tree = await resolveTreeKept({
    key,
    ahead: input.treeAhead,
    spec,
    rootManifest: tarball ? dependenciesOf(pkg.manifest) : undefined,
    packageName: pkg.name,
    nodePath: node.path,
    npmConfig: runtime.npmConfig,
    npmCache: runtime.npmCache,
    registry: input.registry,
    env: runtime.env,
    signal: input.signal,
    verify: pkg.dependencySignatures?.pacote,
    packument: pkg.packument,
    nodeVersion: node.version,
    seeds: input.seeds,
    onGuess: input.onGuess,
    onKept: input.onKept && ((kept) => input.onKept!(tarball ? withRealRoot(kept, real) : kept)),
  });
  if (key && input.treeAhead) await rememberTree(input.treeAhead, key);
  return tarball ? withRealRoot(tree, real) : tree;
}

/** The parts of a tarball's manifest the prefetch starts from (a child gets them as JSON: nothing else). */
function dependenciesOf(manifest: ResolvedPackage['manifest']): Manifest {
  const { dependencies, optionalDependencies, peerDependencies, peerDependenciesMeta } = manifest as Manifest;
  return { dependencies, optionalDependencies, peerDependencies, peerDependenciesMeta };
}
