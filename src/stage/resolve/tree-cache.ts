/**
 * Resolution that is not repeated: a resolved tree is kept, and given again while every packument it
 * was built from is unchanged, so a version staged again (after a prune, on a second root of the
 * account) skips arborist. Kept in npm's own cache (`<npm cache>/_cacache`, under a key of ours)
 * rather than under the root: it is derived from the packuments that cache holds, so it lives and is
 * cleaned with them (`npm cache clean`), every root of the account shares it, and cacache's writes are
 * atomic and its reads checked against their integrity, so two stagings writing the same tree at once
 * are safe. An account never reads another's: each has its own npm cache, as it has its own packuments.
 *
 * Its key is everything the tree depends on besides the packuments: the package (name, version and its
 * tarball's integrity: a local tarball is the same package wherever it lies), registry or tarball, the
 * Node version (engines may name a minor: `>=20.19`), platform, arch, npm's settings that change what
 * arborist picks (all but credentials and transport), the signature keys the dependencies were checked
 * with, and arborist's version. What npm's cache stored for each document arborist read goes with the
 * tree (its integrity, and its ETag and Last-Modified where the registry sent them): before the tree is
 * given again each is asked for once more, with If-None-Match / If-Modified-Since where it can be; a 304,
 * or the same bytes again (a registry that sends no validators), says it is unchanged. A single changed
 * or unanswered one and the tree is resolved afresh, as before. The tree given is then the one arborist
 * would build from the same documents.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import cacache from 'cacache';
import { isSecretSetting, stripUrlCredentials } from '../../platform/npm-credentials.js';
import type { PackumentHandoff } from '../../registry/fetch.js';
import { FULL_DOC, cacheKeyOf } from './packument-revalidate.js';
import { type Validator, allUnchanged, allUnchangedBeside } from './revalidate.js';
import {
  type ResolveTreeOptions,
  type ResolvedTree,
  type TreeNode,
  flatNpmOptions,
  resolveTree,
} from './resolve-tree.js';

const ARBORIST_VERSION = (createRequire(import.meta.url)('@npmcli/arborist/package.json') as { version: string })
  .version;
/** Bumped when what is stored, or what goes into the key, changes meaning. */
const FORMAT = 1;
const KEY_PREFIX = 'release-switcher:resolved-tree:';

/**
 * npm settings that never change which tree arborist builds: transport, output, scripts, and where things are kept.
 * Everything else is in the key, but never a secret (platform/npm-credentials.ts `isSecretSetting`: a token, password
 * or key, in any case) nor a URL's user and password: the key is written in npm's cache index, which others may read,
 * and a hash of a password with everything else known is a password guessed offline.
 */
const NOT_RESOLUTION =
  /^(cache|logs-dir|logs-max|loglevel|color|progress|timing|fetch-retries|fetch-retry-factor|fetch-retry-mintimeout|fetch-retry-maxtimeout|fetch-timeout|maxsockets|proxy|https-proxy|noproxy|cafile|ca|strict-ssl|user-agent|userconfig|globalconfig|prefix|audit|fund|update-notifier|ignore-scripts|allow-scripts|strict-allow-scripts|script-shell|foreground-scripts|node-options|unicode|usage|json|yes|prefer-online|prefer-offline|offline)$/i;

export interface TreeKeyInput {
  name: string;
  version: string;
  /** The package's tarball integrity; without one nothing is kept. */
  integrity: string | null;
  /** Resolved from the registry's packument, or from a tarball's own package.json. */
  from: 'registry' | 'tarball';
  nodeVersion: string;
  npmConfig: Record<string, string>;
  registry: string | null;
  /** Extra pacote options of the resolution (signature verification and the registries' keys). */
  verify?: Record<string, unknown> | undefined;
  platform?: string;
  arch?: string;
}

/** The cache key of a tree, or undefined when it cannot be kept (no integrity to tell the package by). */
export function treeKey(input: TreeKeyInput): string | undefined {
  if (!input.integrity) return undefined;
  const settings = resolutionSettings(input.npmConfig);
  const identity = {
    format: FORMAT,
    arborist: ARBORIST_VERSION,
    package: `${input.name}@${input.version}`,
    integrity: input.integrity,
    from: input.from,
    node: input.nodeVersion.replace(/^v/, ''),
    platform: input.platform ?? process.platform,
    arch: input.arch ?? process.arch,
    registry: input.registry === null ? null : stripUrlCredentials(input.registry),
    settings,
    verify: input.verify ?? null,
  };
  return `${KEY_PREFIX}${createHash('sha256').update(JSON.stringify(identity)).digest('hex')}`;
}

/** npm's settings that change which tree arborist builds, in a stable order. */
export function resolutionSettings(npmConfig: Record<string, string>): [string, string][] {
  return Object.entries(npmConfig)
    .filter(([name]) => !NOT_RESOLUTION.test(name) && !isSecretSetting(name))
    .map(([name, value]): [string, string] => [name, stripUrlCredentials(value)])
    .sort(([a], [b]) => a.localeCompare(b));
}

/**
 * `resolveTree`, or the tree kept under `key` while it still holds (a kept tree is told to `onKept`, and its
 * packages to `onGuess`, as soon as it is read); a tree resolved afresh is kept for the next time.
 * Keeping is best effort: a cache that cannot be read or written only means resolving as before.
 */
export async function resolveTreeKept(
  options: ResolveTreeOptions & {
    key: string | undefined;
    /** The tree guessed for this spec, revalidated while the package was fetched (tree-ahead.ts). */
    ahead?: { tree: Promise<AheadTree | undefined>; stop(): void } | undefined;
    /**
     * Told the kept tree under `key` once it is read, before its packuments are revalidated: a guess (the tree
     * given is this very `deps` array when it holds, another when it does not).
     */
    onKept?: ((tree: KeptTree['tree']) => void) | undefined;
  },
): Promise<ResolvedTree> {
  const { key } = options;
  const flat = { ...flatNpmOptions(options.npmConfig, options.npmCache, options.registry), ...options.verify };
  const cache = flat.cache as string;
  if (key) {
    const started = performance.now();
    // Its packages' tarballs are fetched ahead while it is revalidated: guesses still, until it is.
    const offer = (tree: KeptTree['tree']) => {
      options.onKept?.(tree);
      for (const node of tree.deps) {
        if (node.resolved && node.integrity && /^https?:/.test(node.resolved))
          options.onGuess?.({
            name: node.name,
            version: node.version,
            resolved: node.resolved,
            integrity: node.integrity,
          });
      }
    };
    const revalidation = { cache, flat, signal: options.signal, fresh: options.packument };
    const guessed = await options.ahead?.tree.catch(() => undefined);
    if (guessed?.key === key) {
      offer(guessed.kept.tree);
      // Its other packuments were asked for while the package was fetched; its own is checked now.
      const unchanged = (await guessed.others) && (await allUnchanged(guessed.own, revalidation));
      options.signal?.throwIfAborted();
      if (unchanged) {
        const ms = Math.round(performance.now() - guessed.startedAt);
        return {
          ...guessed.kept.tree,
          how: { kept: true, revalidated: guessed.kept.validators.length, ms, ahead: true },
        };
      }
    } else {
      options.ahead?.stop();
      const hit = await keptTree(cache, key, flat, { ...revalidation, onRead: offer });
      if (hit) {
        const ms = Math.round(performance.now() - started);
        return { ...hit.tree, how: { kept: true, revalidated: hit.revalidated, ms, ahead: false } };
      }
    }
  }
  const tree = await resolveTree(options);
  if (key) await keepTree(cache, key, tree, Date.now()).catch(() => false);
  return tree;
}

/**
 * A kept tree revalidated ahead of its key (tree-ahead.ts): given only when `key` is the key the package
 * fetched names, and `own` is unchanged too.
 */
export interface AheadTree {
  key: string;
  kept: KeptTree;
  /** The package's own packument(s): the staging fetches it, so they are checked once it has. */
  own: Validator[];
  /** Every other packument of the tree unchanged (asked while the package was fetched). */
  others: Promise<boolean>;
  /** performance.now() when the guess was started. */
  startedAt: number;
}

export interface KeptTree {
  format: number;
  tree: Omit<ResolvedTree, 'how' | 'packuments'>;
  validators: Validator[];
}

interface StoredEntry {
  integrity: string | null;
  time?: number;
  metadata?: { url?: string; reqHeaders?: Record<string, string>; resHeaders?: Record<string, string> };
}

/**
 * Keep `tree` under `key`, with the validators npm's cache holds for the documents it was built from.
 * Nothing is kept when one has none, was stored for another request, or was rewritten after `resolvedAt`
 * (another process fetched it anew meanwhile: its validator may not be the one of the document read).
 */
export async function keepTree(cache: string, key: string, tree: ResolvedTree, resolvedAt: number): Promise<boolean> {
  const urls = tree.packuments?.map((packumentKey) => /^full:(.*)$/.exec(packumentKey)?.[1]);
  if (!urls || urls.some((url) => url === undefined)) return false;
  const validators: Validator[] = [];
  for (const url of urls as string[]) {
    const entry = (await cacache.get.info(cache, cacheKeyOf(url)).catch(() => null)) as StoredEntry | null;
    const meta = entry?.metadata;
    const res = meta?.resHeaders ?? {};
    if (!entry?.integrity || meta?.url !== url || meta.reqHeaders?.accept !== FULL_DOC) return false;
    if ((entry.time ?? 0) > resolvedAt) return false;
    validators.push({
      url: stripUrlCredentials(url),
      integrity: entry.integrity,
      ...(res.etag ? { etag: res.etag } : {}),
      ...(res['last-modified'] ? { lastModified: res['last-modified'] } : {}),
    });
  }
  const { how: _how, packuments: _packuments, ...bare } = tree;
  // No registry's user and password in what is kept, should a registry have written one into a tarball's URL.
  const plain = (node: TreeNode): TreeNode =>
    node.resolved ? { ...node, resolved: stripUrlCredentials(node.resolved) } : node;
  const kept: KeptTree = {
    format: FORMAT,
    tree: { ...bare, root: plain(bare.root), deps: bare.deps.map(plain) },
    validators,
  };
  await cacache.put(cache, key, JSON.stringify(kept));
  return true;
}

export interface KeptHit {
  tree: Omit<ResolvedTree, 'how' | 'packuments'>;
  revalidated: number;
}

/**
 * The tree kept under `key` when every packument it was built from is unchanged (each asked once more,
 * conditionally, with the resolution's npm options `flat`); undefined otherwise, or when none is kept.
 */
export async function keptTree(
  cache: string,
  key: string,
  flat: Record<string, unknown>,
  more: {
    signal?: AbortSignal | undefined;
    /**
     * The package's packument, fetched for this staging moments ago: when npm's cache stored it since it was
     * asked for, with the bytes the tree was built from, it is unchanged without asking again (openclaw's: 10 MB).
     */
    fresh?: Pick<PackumentHandoff, 'key' | 'askedAt'> | undefined;
    /** Told the kept tree once it is read, before it is revalidated (it very likely holds). */
    onRead?: ((tree: KeptTree['tree']) => void) | undefined;
  } = {},
): Promise<KeptHit | undefined> {
  if (flat.offline) return undefined;
  const kept = await readKept(cache, key);
  if (!kept) return undefined;
  more.onRead?.(kept.tree);
  // The package's own packument is checked against this staging's fetch of it; the others, maybe on a thread of their own.
  const { signal, fresh } = more;
  const own = kept.validators.filter((validator) => fresh !== undefined && `full:${validator.url}` === fresh.key);
  const others = kept.validators.filter((validator) => !own.includes(validator));
  const answers = await Promise.all([
    allUnchanged(own, { cache, flat, signal, fresh }),
    allUnchangedBeside(others, { cache, flat, signal }),
  ]);
  signal?.throwIfAborted();
  const unchanged = answers.every(Boolean);
  return unchanged ? { tree: kept.tree, revalidated: kept.validators.length } : undefined;
}

/** The tree kept under `key`, or undefined (none, unreadable, or of another format). */
export async function readKept(cache: string, key: string): Promise<KeptTree | undefined> {
  let kept: KeptTree;
  try {
    kept = JSON.parse((await cacache.get(cache, key)).data.toString()) as KeptTree;
  } catch {
    return undefined;
  }
  return kept.format === FORMAT && Array.isArray(kept.validators) ? kept : undefined;
}
