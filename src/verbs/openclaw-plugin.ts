/**
 * The OpenClaw plugin as a folder `openclaw plugins install <folder>` takes, written from this installation of
 * release-switcher (the package ships the built plugin under integrations/openclaw/), so a user needs no checkout.
 *
 * Why a folder with its own node_modules: OpenClaw copies a local folder as it is (fs.cp, symlinks kept verbatim)
 * and runs no package manager for it (docs/plugins/dependency-resolution.md, "Local plugins": dependencies are
 * installed for archives only), and it refuses hard-linked source files. So the folder gets release-switcher as npm
 * would install it (its package.json and the files it publishes) and release-switcher's production dependencies at
 * the positions they have where it is installed, copied from there: no registry, no bundler, and release-switcher's
 * CLI stays a real file, which the runner that carries out a scheduled switch runs
 * (`node <plugin>/node_modules/release-switcher/dist/cli/main.js run-transaction ID`).
 */
import { cp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import { PACKAGE_ROOT } from '../platform/self.js';

export interface OpenclawPluginOptions {
  /** The folder to write: absent, empty, or a plugin folder written before (which is replaced). */
  out: string;
}

export interface OpenclawPluginResult {
  out: string;
  /** The release-switcher inside it. */
  version: string;
  /** Packages copied beside it: release-switcher's production dependencies. */
  packages: number;
}

interface PackageJson {
  version: string;
  files: string[];
  dependencies?: Record<string, string>;
  [key: string]: unknown;
}

const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as PackageJson;

/** Write the plugin folder `out`: the built plugin, and release-switcher with its runtime dependencies in node_modules. */
export async function openclawPlugin(options: OpenclawPluginOptions): Promise<OpenclawPluginResult> {
  const out = path.resolve(options.out);
  const pluginDir = path.join(PACKAGE_ROOT, 'integrations', 'openclaw');
  const self = await readJson(path.join(PACKAGE_ROOT, 'package.json'));
  const plugin = await readJson(path.join(pluginDir, 'package.json')).catch(() => null);
  if (!plugin) {
    throw new ReleaseSwitcherError('UNSUPPORTED', `This installation has no OpenClaw plugin (${pluginDir}).`, {
      hint: 'In a checkout, build it first: npm run build',
    });
  }
  await replaceable(out);
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  await cp(path.join(pluginDir, 'dist'), path.join(out, 'dist'), { recursive: true, filter: notSourceMap });
  for (const file of ['openclaw.plugin.json', 'README.md']) await cp(path.join(pluginDir, file), path.join(out, file));
  const { scripts: _scripts, devDependencies: _dev, private: _private, ...published } = plugin;
  published.dependencies = { ...plugin.dependencies, 'release-switcher': self.version };
  published.bundleDependencies = ['release-switcher'];
  await writeFile(path.join(out, 'package.json'), `${JSON.stringify(published, null, 2)}\n`);
  await copySelf(self, path.join(out, 'node_modules', 'release-switcher'));
  const locations = await productionLocations();
  for (const { from, to } of locations) {
    // Each package without its nested node_modules: those are packages of their own in the list.
    await cp(from, path.join(out, to), {
      recursive: true,
      filter: (source) => source === from || !path.relative(from, source).split(path.sep).includes('node_modules'),
    });
  }
  return { out, version: self.version, packages: locations.length };
}

/** `out` is replaced: only when it is absent, empty, or a plugin folder written before (never a folder of the user's). */
async function replaceable(out: string): Promise<void> {
  const entries = await readdir(out).catch(() => null);
  if (entries === null || entries.length === 0 || entries.includes('openclaw.plugin.json')) return;
  throw new ReleaseSwitcherError('USAGE', `${out} is not empty and holds no plugin written before; it is left alone.`, {
    hint: 'Name a new or empty folder, or leave DIR out for the default one.',
  });
}

const notSourceMap = (source: string) => !source.endsWith('.map');

/** release-switcher as npm installs it: package.json and what `files` publishes (the plugin is not its own part). */
async function copySelf(self: PackageJson, target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  await cp(path.join(PACKAGE_ROOT, 'package.json'), path.join(target, 'package.json'));
  for (const entry of self.files.filter((file) => !file.startsWith('!') && !file.startsWith('integrations/')))
    await cp(path.join(PACKAGE_ROOT, entry), path.join(target, entry), { recursive: true, filter: notSourceMap });
}

interface TreeNode {
  location: string;
  path: string;
  isLink: boolean;
  edgesOut: Map<string, { type: string; to: TreeNode | null }>;
}

/**
 * Where release-switcher's production dependencies are (`from`) and where they go in the plugin (`to`, a
 * node_modules path). Under `npm install -g` (and in a checkout) they are in its own node_modules; in a project
 * they may be hoisted, and the project's tree is read instead.
 */
async function productionLocations(): Promise<{ from: string; to: string }[]> {
  // @ts-expect-error arborist ships no types
  const { default: Arborist } = await import('@npmcli/arborist'); // lazy: arborist is heavy; the package root loads this file
  const load = async (where: string): Promise<TreeNode> => new Arborist({ path: where }).loadActual();
  let top = PACKAGE_ROOT;
  let tree = await load(top);
  let self: TreeNode | undefined = tree;
  const parts = PACKAGE_ROOT.split(path.sep);
  const outermost = parts.indexOf('node_modules');
  if (hasMissing(tree) && outermost > 0) {
    top = parts.slice(0, outermost).join(path.sep);
    tree = await load(top);
    self = (tree as unknown as { inventory: Map<string, TreeNode> }).inventory.get(path.relative(top, PACKAGE_ROOT));
  }
  const seen = new Map<string, TreeNode>();
  const visit = (node: TreeNode) => {
    for (const edge of node.edgesOut.values()) {
      if (!['prod', 'optional', 'peer'].includes(edge.type) || !edge.to || edge.to.isLink) continue;
      if (seen.has(edge.to.location)) continue;
      seen.set(edge.to.location, edge.to);
      visit(edge.to);
    }
  };
  if (self) visit(self);
  return [...seen.values()]
    .map((node) => ({ from: node.path, to: node.location }))
    .sort((a, b) => a.to.localeCompare(b.to));
}

const hasMissing = (tree: TreeNode) =>
  [...tree.edgesOut.values()].some((edge) => edge.type === 'prod' && edge.to === null);
