#!/usr/bin/env node
// Writes the plugin as a folder OpenClaw can install (`openclaw plugins install <folder>`), self-contained.
//
// Why a folder with its own node_modules: OpenClaw copies a local folder as it is (fs.cp, symlinks kept verbatim)
// and runs no package manager for it (docs/plugins/dependency-resolution.md, "Local plugins"; the dist's
// installPackageDir installs dependencies for archives only), and it refuses hard-linked source files. This
// workspace's node_modules/release-switcher is a symlink to the repository, which would dangle once copied. So the
// folder gets release-switcher as npm would install it (the files its package.json publishes) and the production
// dependencies of release-switcher at the positions they have in this repository's tree, copied from it: no
// registry, no bundler, and release-switcher's CLI stays a real file, which the runner that carries out a
// scheduled switch runs (`node <plugin>/node_modules/release-switcher/dist/cli/main.js run-transaction ID`).
//
//   node scripts/assemble.mjs [OUT]     (default: integrations/openclaw/out)
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Arborist from '@npmcli/arborist';

const here = path.dirname(fileURLToPath(import.meta.url));
const pluginDir = path.resolve(here, '..');
const repo = path.resolve(pluginDir, '..', '..');
const out = path.resolve(process.argv[2] ?? path.join(pluginDir, 'out'));

const readJson = async (file) => JSON.parse(await readFile(file, 'utf8'));

/** The locations (node_modules/a, node_modules/a/node_modules/b…) of the packages release-switcher needs at runtime. */
async function productionLocations() {
  const tree = await new Arborist({ path: repo }).loadActual();
  const seen = new Set();
  const visit = (node) => {
    for (const edge of node.edgesOut.values()) {
      if (!['prod', 'optional', 'peer'].includes(edge.type) || !edge.to || edge.to.isLink) continue;
      if (seen.has(edge.to.location)) continue;
      seen.add(edge.to.location);
      visit(edge.to);
    }
  };
  visit(tree);
  return [...seen].sort();
}

async function main() {
  const root = await readJson(path.join(repo, 'package.json'));
  const plugin = await readJson(path.join(pluginDir, 'package.json'));
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  // The plugin: its manifest, its built code, and a package.json whose dependency is the release-switcher beside it.
  await cp(path.join(pluginDir, 'dist'), path.join(out, 'dist'), { recursive: true });
  for (const file of ['openclaw.plugin.json', 'README.md']) await cp(path.join(pluginDir, file), path.join(out, file));
  const { scripts: _scripts, devDependencies: _dev, private: _private, ...published } = plugin;
  published.dependencies = { ...plugin.dependencies, 'release-switcher': root.version };
  published.bundleDependencies = ['release-switcher'];
  await writeFile(path.join(out, 'package.json'), `${JSON.stringify(published, null, 2)}\n`);
  // release-switcher as its package would be installed: package.json and the files it publishes.
  const target = path.join(out, 'node_modules', 'release-switcher');
  await mkdir(target, { recursive: true });
  for (const entry of ['package.json', ...root.files])
    await cp(path.join(repo, entry), path.join(target, entry), { recursive: true });
  // Its production dependencies, each without its nested node_modules (those are packages of their own here).
  const locations = await productionLocations();
  for (const location of locations) {
    const from = path.join(repo, location);
    await cp(from, path.join(out, location), {
      recursive: true,
      filter: (source) => source === from || !path.relative(from, source).split(path.sep).includes('node_modules'),
    });
  }
  process.stdout.write(`${out}\n`);
  process.stderr.write(`release-switcher ${root.version} and ${locations.length} packages it needs at runtime\n`);
}

await main();
