#!/usr/bin/env node
// Resolution that is not repeated (src/stage/resolve/tree-cache.ts): the time to a dependency tree when arborist
// resolves it (the anchor: npm's cache already holding every packument, as on a machine that staged before) against
// the time when the tree kept from an earlier resolution is given again (each of its packuments revalidated with
// one conditional request). Interleaved (anchor, kept, anchor, kept...) in one invocation, against the real
// registry (or --registry), in a private npm cache; the first resolution into the empty cache is printed too.
//
//   node bench/resolve-kept.mjs --spec openclaw@2026.9.6      (run it with Node 24: openclaw's engines)
//   node bench/resolve-kept.mjs --spec express@4.21.2 --runs 5
//
// Options: --spec NAME@VERSION (default express@4.21.2), --runs N (default 3), --registry URL, --keep (keep the cache).
// Each resolution runs in this process, as staging does when the configured Node has the CLI's major.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pacote from 'pacote';
import { resolveTree } from '../dist/stage/resolve/resolve-tree.js';
import { resolveTreeKept, treeKey } from '../dist/stage/resolve/tree-cache.js';
import { median } from './lib/measure.mjs';

const { values: opts } = parseArgs({
  options: {
    spec: { type: 'string', default: 'express@4.21.2' },
    runs: { type: 'string', default: '3' },
    registry: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const runs = Number(opts.runs);
const npmCache = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-bench-resolve-'));
const registry = opts.registry ?? null;
const manifest = await pacote.manifest(opts.spec, {
  cache: path.join(npmCache, '_cacache'),
  ...(registry ? { registry } : {}),
});
const base = {
  spec: `${manifest.name}@${manifest.version}`,
  packageName: manifest.name,
  nodePath: process.execPath,
  nodeVersion: process.versions.node,
  npmConfig: {},
  npmCache,
  registry,
  env: process.env,
};
const key = treeKey({
  name: manifest.name,
  version: manifest.version,
  integrity: manifest.dist.integrity,
  from: 'registry',
  nodeVersion: process.versions.node,
  npmConfig: {},
  registry,
});

async function timed(fn) {
  const started = performance.now();
  const tree = await fn();
  return { ms: performance.now() - started, tree };
}

const shape = (tree) => JSON.stringify([tree.root, ...tree.deps].map((n) => [n.location, n.version, n.integrity]));

try {
  const cold = await timed(() => resolveTreeKept({ ...base, key }));
  console.log(`${base.spec}: ${cold.tree.deps.length} dependencies, Node ${process.versions.node}`);
  console.log(`first resolution (empty npm cache, tree kept): ${(cold.ms / 1000).toFixed(2)} s`);
  const anchor = [];
  const kept = [];
  for (let i = 0; i < runs; i++) {
    const a = await timed(() => resolveTree(base));
    const k = await timed(() => resolveTreeKept({ ...base, key }));
    if (!('kept' in (k.tree.how ?? {})))
      throw new Error(`run ${i + 1}: the kept tree was not given (${JSON.stringify(k.tree.how)})`);
    if (shape(a.tree) !== shape(k.tree)) throw new Error(`run ${i + 1}: the kept tree differs from arborist's`);
    anchor.push(a.ms);
    kept.push(k.ms);
    console.log(
      `run ${i + 1}: arborist ${(a.ms / 1000).toFixed(2)} s, kept ${(k.ms / 1000).toFixed(2)} s (${k.tree.how.revalidated} packuments revalidated)`,
    );
  }
  const spread = (xs) => `${(Math.min(...xs) / 1000).toFixed(2)}–${(Math.max(...xs) / 1000).toFixed(2)} s`;
  console.log(`arborist (warm npm cache): median ${(median(anchor) / 1000).toFixed(2)} s (${spread(anchor)})`);
  console.log(`kept tree: median ${(median(kept) / 1000).toFixed(2)} s (${spread(kept)})`);
  console.log(
    `kept/arborist: ${(median(kept) / median(anchor)).toFixed(2)}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
} finally {
  if (!opts.keep) fs.rmSync(npmCache, { recursive: true, force: true });
}
// Keep-alive sockets would hold the process open.
process.exit(0);
