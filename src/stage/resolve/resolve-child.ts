/**
 * Run as a child process on the CONFIGURED Node (not the one release-switcher runs on): arborist
 * decides optional and engine-gated packages from `process.version`, so resolving under another Node
 * gives another tree than `npm install -g` would. Reads its options (JSON) from argv[2], writes the
 * tree (JSON) to argv[3]. Global mode, an empty prefix: the tarball's own .npmrc and lockfile are
 * never read, as `npm install -g` never reads them.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
// @ts-expect-error arborist ships no types
import Arborist from '@npmcli/arborist';
// @ts-expect-error no types
import optionalSet from '@npmcli/arborist/lib/optional-set.js';
// @ts-expect-error no types
import { checkPlatform } from 'npm-install-checks';
import type { TreeNode } from './resolve-tree.js';
import { PacketCache, prefetchPackuments } from './resolve-prefetch.js';

interface ChildOptions {
  spec: string;
  /** npm's flat options (registry, auth, omit, before…), already as arborist takes them. */
  flat: Record<string, unknown>;
  /** The package's packument the parent resolved it from (pacote's cache key, a file): not fetched again. */
  packument?: { key: string; file: string };
}

async function main(): Promise<void> {
  const [optionsJson, out] = process.argv.slice(2);
  const options = JSON.parse(optionsJson ?? '{}') as ChildOptions;
  const top = await fs.mkdtemp(path.join(os.tmpdir(), 'rs-resolve-'));
  try {
    const started = performance.now();
    const packumentCache = new PacketCache();
    if (options.packument)
      packumentCache.set(options.packument.key, JSON.parse(await fs.readFile(options.packument.file, 'utf8')));
    const arb = new Arborist({ ...options.flat, path: top, global: true, packumentCache });
    const prefetch = prefetchPackuments(options.spec, arb.options, packumentCache);
    const tree = await arb.buildIdealTree({ add: [options.spec] });
    const timing = {
      loadMs: Math.round(started),
      buildMs: Math.round(performance.now() - started),
      prefetched: prefetch.requests,
    };
    const nodes: TreeNode[] = [];
    // The ideal tree keeps optional packages for other platforms; npm's reify drops each, with the
    // packages only it needed (optionalSet), when checkPlatform fails. Do the same.
    const dropped = new Set<unknown>();
    for (const node of tree.inventory.values()) {
      if (!node.optional || node.isRoot) continue;
      try {
        checkPlatform(node.package, false, { os: options.flat.os, cpu: options.flat.cpu, libc: options.flat.libc });
      } catch {
        for (const gone of optionalSet(node)) dropped.add(gone);
      }
    }
    for (const node of tree.inventory.values()) {
      if (node.isRoot || dropped.has(node)) continue;
      nodes.push({
        location: node.location,
        name: node.packageName ?? node.name,
        version: node.version,
        integrity: node.integrity ?? null,
        resolved: node.resolved ?? null,
        hasInstallScript: Boolean(
          node.hasInstallScript ||
            node.package?.scripts?.preinstall ||
            node.package?.scripts?.install ||
            node.package?.scripts?.postinstall,
        ),
        inBundle: Boolean(node.inBundle),
        isLink: Boolean(node.isLink),
        hasShrinkwrap: Boolean(node.hasShrinkwrap),
        // pacote verified any signature it carries when asked to (verifySignatures); whether it has one is ours to check.
        signed: (node.package?._signatures ?? node.package?.dist?.signatures ?? []).length > 0,
      });
    }
    await fs.writeFile(
      out!,
      JSON.stringify({ node: process.version, platform: process.platform, arch: process.arch, timing, nodes }),
    );
  } finally {
    await fs.rm(top, { recursive: true, force: true });
  }
}

main().then(
  // Prefetches arborist did not need and keep-alive sockets would hold the process open: the tree is written.
  () => process.exit(0),
  (error: unknown) => {
    const e = error as { code?: string; message?: string };
    process.stderr.write(
      `RESOLVE_ERROR ${JSON.stringify({ code: e.code ?? null, message: e.message ?? String(error) })}\n`,
    );
    process.exit(1);
  },
);
