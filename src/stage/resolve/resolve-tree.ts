/**
 * The dependency tree `npm install -g <spec>` would build, resolved by arborist with npm's own
 * settings: in our own process when the configured Node has our major (no second Node start, no
 * second load of arborist, the packument handed over as it is), else in a child process on the
 * configured Node. Locations are made relative to the package root
 * (`node_modules/<pkg>/node_modules/a` → `node_modules/a`; the package itself is `''`).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { networkDeadlines } from '../../registry/network.js';
import { ReleaseSwitcherError, isReleaseSwitcherError } from '../../model/errors.js';
import { nodeMajor } from '../../platform/node.js';
import { makeNpmCachePrivate } from '../../platform/npm-cache.js';
import { credentialsAsAuth } from '../../platform/npm-credentials.js';
import { run, tail } from '../../platform/subprocess.js';
import type { PackumentHandoff } from '../../registry/fetch.js';
import { signatureError } from '../../registry/signatures.js';
import type { RawTree, TreeNode } from './resolve-ideal.js';
import type { Guess, Manifest } from './resolve-prefetch.js';

export type { TreeNode };

const RESOLVE_TIMEOUT_MS = 10 * 60_000;

export interface ResolvedTree {
  node: string;
  platform: string;
  arch: string;
  /** The package itself. */
  root: TreeNode;
  /** Its dependencies, locations relative to the package root. */
  deps: TreeNode[];
  /** Where it was resolved and how long arborist took, or that it was kept from an earlier resolution (progress only). */
  how?:
    | { inProcess: boolean; buildMs: number; prefetched: number }
    | { kept: true; revalidated: number; ms: number; ahead: boolean };
  /** The packuments arborist built it from (pacote's cache keys): what says whether a kept tree still holds (tree-cache.ts). */
  packuments?: string[];
}

/** Whether `resolveTree` resolves in this process for a configured Node of this version. */
export function resolvesInProcess(nodeVersion: string | undefined): boolean {
  return nodeVersion !== undefined && nodeMajor(nodeVersion) === nodeMajor(process.versions.node);
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
  /** The configured Node's version (`24.1.0`): when its major is ours, the tree is resolved in this process. */
  nodeVersion?: string | undefined;
  /** Names the tree very likely holds (the previous release's packages): their packuments are requested at once. */
  seeds?: readonly string[] | undefined;
  /**
   * Told each dependency version the prefetch guesses the tree will hold, as it goes, where the tree
   * is resolved in this process (fetch-ahead.ts fetches their tarballs); a child resolves without it.
   */
  onGuess?: ((guess: Guess) => void) | undefined;
  /** The package's manifest when `spec` is a tarball (file or URL): the prefetch starts from its dependencies. */
  rootManifest?: Manifest | undefined;
  /** Resolve in a child even when the majors match (tests compare both ways). @default false */
  child?: boolean | undefined;
}

/**
 * npm's flat settings as arborist/pacote take them: strings where npm would give arrays, dates, booleans; a registry
 * URL's user and password as that registry's `_auth` (platform/npm-credentials.ts: never in a URL npm writes down).
 */
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
  makeNpmCachePrivate(npmCache);
  return credentialsAsAuth(flat);
}

export async function resolveTree(options: ResolveTreeOptions): Promise<ResolvedTree> {
  if (!options.child && resolvesInProcess(options.nodeVersion)) return resolveInProcess(options);
  const child = fileURLToPath(new URL('./resolve-child.js', import.meta.url));
  // mkdtemp's folder is 0700 and its files 0600: the options hold npm's credentials (`_authToken`, `_auth`), which
  // go to the child through this file, never its arguments (any user reads those in /proc/<pid>/cmdline).
  const out = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'rs-tree-')), 'tree.json');
  try {
    const packument = options.packument && {
      key: options.packument.key,
      file: path.join(path.dirname(out), 'packument.json'),
    };
    if (packument) await fs.writeFile(packument.file, options.packument!.json, { mode: 0o600 });
    const input = path.join(path.dirname(out), 'options.json');
    const childOptions = {
      spec: options.spec,
      flat: { ...flatNpmOptions(options.npmConfig, options.npmCache, options.registry), ...options.verify },
      packument,
      seeds: options.seeds,
      rootManifest: options.rootManifest,
    };
    await fs.writeFile(input, JSON.stringify(childOptions), { mode: 0o600, flag: 'wx' });
    const result = await run(options.nodePath, [child, input, out], {
      env: options.env,
      timeoutMs: RESOLVE_TIMEOUT_MS,
      signal: options.signal,
    });
    options.signal?.throwIfAborted();
    if (result.exitCode !== 0) throw resolveFailed(options.spec, result.output);
    const raw = JSON.parse(await fs.readFile(out, 'utf8')) as RawTree;
    return {
      ...relocate(raw, options.packageName),
      how: { inProcess: false, ...raw.timing },
      packuments: raw.packuments,
    };
  } finally {
    await fs.rm(path.dirname(out), { recursive: true, force: true });
  }
}

function relocate(raw: RawTree, name: string): ResolvedTree {
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

let resolverLoading: Promise<typeof import('./resolve-ideal.js')> | undefined;
function loadResolver(): Promise<typeof import('./resolve-ideal.js')> {
  resolverLoading ??= import('./resolve-ideal.js'); // lazy: arborist and pacote load only when a tree is resolved
  return resolverLoading;
}

/**
 * Start loading arborist now, without waiting for it, where the tree is certain to be resolved in this
 * process (the configured Node is the one running us): the load then overlaps the network wait for the
 * package's own packument instead of following it. A failure shows where the resolution awaits it.
 */
export function preloadResolver(nodePath: string | null | undefined): void {
  if (nodePath && path.resolve(nodePath) !== process.execPath) return;
  loadResolver().catch(() => undefined);
}

/**
 * The same resolution without a child: arborist is loaded on first use (a staging that needs no
 * resolution never pays for it) and told the configured Node's version, from which it picks
 * engine-gated versions as the child would from its own. Arborist cannot be interrupted: on
 * cancellation or past the deadline the result is abandoned, and its prefetching stops when it ends.
 */
async function resolveInProcess(options: ResolveTreeOptions): Promise<ResolvedTree> {
  options.signal?.throwIfAborted();
  const { resolveIdeal } = await loadResolver();
  const resolving = resolveIdeal({
    spec: options.spec,
    flat: { ...flatNpmOptions(options.npmConfig, options.npmCache, options.registry), ...options.verify },
    packument: options.packument && { key: options.packument.key, document: JSON.parse(options.packument.json) },
    nodeVersion: `v${options.nodeVersion!.replace(/^v/, '')}`,
    seeds: options.seeds,
    onGuess: options.onGuess,
    rootManifest: options.rootManifest,
  });
  let raw: RawTree;
  try {
    raw = await abandonable(resolving, options.signal);
  } catch (error) {
    if (isReleaseSwitcherError(error)) throw error;
    const e = error as { code?: string; message?: string };
    throw resolveFailed(options.spec, { code: e.code ?? null, message: e.message ?? String(error) });
  }
  return { ...relocate(raw, options.packageName), how: { inProcess: true, ...raw.timing }, packuments: raw.packuments };
}

/** `work`, or a CANCELLED / timed-out error first; `work` itself runs on (its outcome is then dropped). */
function abandonable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  work.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    // As the child's deadline: a resolution that outlives it fails as a child killed by it does.
    const timer = setTimeout(
      () => reject(Object.assign(new Error(`no tree after ${RESOLVE_TIMEOUT_MS / 1000} s`), { code: null })),
      RESOLVE_TIMEOUT_MS,
    );
    timer.unref();
    const onAbort = () =>
      reject(
        new ReleaseSwitcherError('CANCELLED', 'Cancelled while resolving the dependencies.', { cause: signal?.reason }),
      );
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });
  });
}

function resolveFailed(spec: string, output: string | { code: string | null; message: string }): ReleaseSwitcherError {
  const match = typeof output === 'string' ? /RESOLVE_ERROR (.*)/.exec(output) : null;
  const detail =
    typeof output !== 'string'
      ? output
      : match
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
