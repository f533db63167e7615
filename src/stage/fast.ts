/**
 * The fast path of staging: with the main package already unpacked in `pkgDir` and its tree resolved,
 * link what a retained release already has, extract only what is new, run the dependency scripts,
 * and check no shared inode moved. Returns why it cannot be used instead, before touching anything,
 * so the caller can fall back to a full `npm install`.
 */
import path from 'node:path';
import { pathExists } from '../platform/fs.js';
import type { ProgressEvent } from '../model/runtime.js';
import type { KnownHash } from '../store/manifest.js';
import { type LinkedSet, type PreviousRelease, extractPackages, isReusable, linkPackages, movedInodes, rebaseline, writeTreeRecord } from './reuse.js';
import type { ResolvedTree } from './resolve-tree.js';
import { linkReusedBins, runDepScripts } from './dep-scripts.js';

export interface Reused {
  packages: number;
  files: number;
  bytes: number;
}

export const NOTHING_REUSED: Reused = { packages: 0, files: 0, bytes: 0 };

/** Why the fast path does not handle this tree, or undefined. */
export async function fallbackReason(tree: ResolvedTree, pkgDir: string): Promise<string | undefined> {
  if (tree.root.hasShrinkwrap || (await pathExists(path.join(pkgDir, 'npm-shrinkwrap.json')))) return 'the package has an npm-shrinkwrap.json';
  for (const node of tree.deps) {
    if (node.location.startsWith('../')) return `${node.name} would be installed beside the package`;
    if (node.isLink || !node.resolved || !/^https?:/.test(node.resolved) || !node.integrity) return `${node.name} is not a registry dependency (${node.resolved ?? 'no source'})`;
    if (node.inBundle) return `${node.name} is bundled inside a dependency`;
  }
  return undefined;
}

export interface FastInput {
  pkgDir: string;
  tree: ResolvedTree;
  previous: PreviousRelease | undefined;
  pacoteOptions: Record<string, unknown>;
  scriptEnv: Record<string, string>;
  nodePath: string;
  ignoreScripts: boolean;
  progress: (event: ProgressEvent) => void;
  signal?: AbortSignal | undefined;
}

export interface FastResult {
  known: Map<string, KnownHash>;
  linked: LinkedSet | undefined;
  reused: Reused;
}

export async function buildTree(input: FastInput): Promise<FastResult> {
  const { tree, previous, progress, pkgDir } = input;
  // A release built under another Node major may hold native builds for another ABI: extract fresh.
  const usable = previous && major(previous.node) === major(tree.node) ? previous : undefined;
  const reuse = tree.deps.filter((node) => isReusable(node, usable));
  const fresh = tree.deps.filter((node) => !reuse.includes(node));
  const linked = usable && reuse.length > 0 ? await linkPackages(pkgDir, usable, reuse, () => linkReusedBins(pkgDir, reuse)) : undefined;
  const reused = linked ? { packages: reuse.length, files: linked.files.length, bytes: linked.bytes } : NOTHING_REUSED;
  progress({ phase: 'reuse', message: `${reused.packages} packages (${reused.files} files, ${reused.bytes} bytes) linked from releases/${usable ? path.basename(usable.dir) : '-'}`, done: reused.bytes, total: reused.bytes, unit: 'bytes' });
  input.signal?.throwIfAborted();
  const extracted = await extractPackages(fresh, { pkgDir, pacoteOptions: input.pacoteOptions, signal: input.signal });
  progress({ phase: 'extract', message: `${fresh.length} new packages extracted from the npm cache (${extracted.files} files)`, done: extracted.bytes, total: extracted.bytes, unit: 'bytes' });
  await writeTreeRecord(pkgDir, tree.root, tree.deps);
  // Bins of the linked packages were made while their inodes were writable; from here their ctime
  // is the baseline that tells a later write through them.
  if (linked) await rebaseline(linked);
  const ran = await runDepScripts(fresh, { pkgDir, env: input.scriptEnv, nodePath: input.nodePath, ignoreScripts: input.ignoreScripts, signal: input.signal });
  progress({ phase: 'scripts', message: ran.length ? `ran ${ran.join(', ')}` : 'no dependency scripts' });
  // Scripts may rewrite an extracted file: computeManifest re-hashes any whose inode moved since.
  return { known: new Map([...extracted.known, ...(linked?.known ?? [])]), linked, reused };
}

/** Shared inodes that changed since they were linked (a script wrote through one). */
export async function sharedWrites(result: FastResult): Promise<string[]> {
  return result.linked ? movedInodes(result.linked) : [];
}

function major(version: string): string {
  return version.replace(/^v/, '').split('.')[0] ?? version;
}
