/**
 * The dependency tree `npm install -g <spec>` would build, resolved by arborist in a child process on
 * the configured Node with npm's own settings. Locations are made relative to the package root
 * (`node_modules/<pkg>/node_modules/a` → `node_modules/a`; the package itself is `''`).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { networkDeadlines } from '../../registry/network.js';
import { ReleaseSwitcherError } from '../../model/errors.js';
import { run, tail } from '../../platform/subprocess.js';
import type { PackumentHandoff } from '../../registry/fetch.js';
import { signatureError } from '../../registry/signatures.js';

const RESOLVE_TIMEOUT_MS = 10 * 60_000;

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

export interface ResolvedTree {
  node: string;
  platform: string;
  arch: string;
  /** The package itself. */
  root: TreeNode;
  /** Its dependencies, locations relative to the package root. */
  deps: TreeNode[];
}

export interface ResolveTreeOptions {
  spec: string;
  packageName: string;
  nodePath: string;
  npmConfig: Record<string, string>;
  npmCache: string;
  registry: string | null;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal | undefined;
  /** Extra pacote options for the resolution, e.g. `verifySignatures` and the registries' keys (registry/signatures.ts). */
  verify?: Record<string, unknown> | undefined;
  /** The package's packument as it was resolved (registry/fetch.ts): the child starts from it instead of fetching it again. */
  packument?: PackumentHandoff | undefined;
}

/** npm's flat settings as arborist/pacote take them: strings where npm would give arrays, dates, booleans. */
export function flatNpmOptions(
  npmConfig: Record<string, string>,
  npmCache: string,
  registry: string | null,
): Record<string, unknown> {
  const flat: Record<string, unknown> = { ...npmConfig, cache: path.join(npmCache, '_cacache') };
  if (registry) flat.registry = registry;
  // npm's fetch-timeout as the idle deadline of every socket the resolution and the downloads open.
  flat.timeout = networkDeadlines(npmConfig).idleMs;
  if (npmConfig.omit) flat.omit = npmConfig.omit.split(/[\s,]+/).filter(Boolean);
  if (npmConfig.before) flat.before = new Date(npmConfig.before);
  for (const key of ['strict-ssl', 'legacy-peer-deps', 'force', 'include-staged']) {
    if (key in npmConfig) flat[key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = npmConfig[key] === 'true';
  }
  return flat;
}

export async function resolveTree(options: ResolveTreeOptions): Promise<ResolvedTree> {
  const child = fileURLToPath(new URL('./resolve-child.js', import.meta.url));
  const out = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'rs-tree-')), 'tree.json');
  try {
    const packument = options.packument && {
      key: options.packument.key,
      file: path.join(path.dirname(out), 'packument.json'),
    };
    if (packument) await fs.writeFile(packument.file, options.packument!.json);
    const input = JSON.stringify({
      spec: options.spec,
      flat: { ...flatNpmOptions(options.npmConfig, options.npmCache, options.registry), ...options.verify },
      packument,
    });
    const result = await run(options.nodePath, [child, input, out], {
      env: options.env,
      timeoutMs: RESOLVE_TIMEOUT_MS,
      signal: options.signal,
    });
    options.signal?.throwIfAborted();
    if (result.exitCode !== 0) throw resolveFailed(options.spec, result.output);
    const raw = JSON.parse(await fs.readFile(out, 'utf8')) as {
      node: string;
      platform: string;
      arch: string;
      nodes: TreeNode[];
    };
    return relocate(raw, options.packageName);
  } finally {
    await fs.rm(path.dirname(out), { recursive: true, force: true });
  }
}

function relocate(
  raw: { node: string; platform: string; arch: string; nodes: TreeNode[] },
  name: string,
): ResolvedTree {
  const top = `node_modules/${name}`;
  const root = raw.nodes.find((node) => node.location === top);
  if (!root) throw resolveFailed(name, `the resolved tree has no ${top}`);
  const deps = raw.nodes
    .filter((node) => node.location.startsWith(`${top}/`))
    .map((node) => ({ ...node, location: node.location.slice(top.length + 1) }));
  // Anything else (a dependency hoisted beside the package in the global folder) is outside what we
  // stage; the caller falls back to a full install when it sees one.
  const outside = raw.nodes.filter((node) => node !== root && !node.location.startsWith(`${top}/`));
  if (outside.length > 0) deps.push(...outside.map((node) => ({ ...node, location: `../${node.location}` })));
  return { node: raw.node, platform: raw.platform, arch: raw.arch, root, deps };
}

function resolveFailed(spec: string, output: string): ReleaseSwitcherError {
  const match = /RESOLVE_ERROR (.*)/.exec(output);
  const detail = match
    ? (JSON.parse(match[1]!) as { code: string | null; message: string })
    : { code: null, message: tail(output) };
  const signature = signatureError(Object.assign(new Error(detail.message), { code: detail.code }), spec);
  if (signature) return signature;
  if (detail.code === 'ETARGET' || detail.code === 'E404') {
    return new ReleaseSwitcherError(
      'PACKAGE_NOT_FOUND',
      `Cannot resolve the dependencies of ${spec}: ${detail.message}`,
      { hint: 'A dependency is missing from the registry.' },
    );
  }
  return new ReleaseSwitcherError(
    'DEPENDENCY_INSTALL_FAILED',
    `Resolving the dependencies of ${spec} failed: ${detail.message}`,
    {
      hint: 'Check the registry and npm settings; run `npm install -g` of the same spec with the same Node to reproduce.',
    },
  );
}
