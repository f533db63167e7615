/**
 * A kept tree revalidated ahead of its key. A kept tree's key (tree-cache.ts) names the package's tarball
 * integrity, known only once the package's own packument is fetched (openclaw's: 10 MB) or its tarball
 * hashed; revalidating the tree's other packuments only then puts two network waits end to end. So, as
 * the staging starts, the key last used for the same spec is read (a small entry of ours in npm's cache,
 * beside the trees) and the tree kept under it revalidated at once, all but the package's own packument,
 * which the staging is fetching anyway.
 *
 * It is a guess and used only as one: the tree is given when the key then computed from the package
 * fetched is the very key guessed and the package's own packument is unchanged too (tree-cache.ts);
 * otherwise its requests are stopped and nothing of it is used. A tag that moved, another tarball under
 * the same path, other settings: another key, the guess dropped, the staging as before.
 */
import { createHash } from 'node:crypto';
import cacache from 'cacache';
import npa from 'npm-package-arg';
import { stripUrlCredentials } from '../../platform/npm-credentials.js';
import { type Validator, allUnchangedBeside } from './revalidate.js';
import { type AheadTree, readKept, resolutionSettings } from './tree-cache.js';

const GUESS_PREFIX = 'release-switcher:tree-of-spec:';

export interface AheadInput {
  /** The spec as staging resolves it (normalizeSpec), with the folder a relative tarball path is read from. */
  spec: string;
  where: string;
  packageName: string;
  /** The resolution's npm options (flatNpmOptions), with npm's cache at `cache`. */
  flat: Record<string, unknown>;
  npmConfig: Record<string, string>;
  registry: string | null;
  /** The configured Node's path (the key names its version). */
  nodePath: string;
  signal?: AbortSignal | undefined;
}

export interface TreeAhead {
  /** npm's cache (`_cacache`), where trees and guesses are kept. */
  cache: string;
  /** Under which the key used is remembered for the next staging of the same spec. */
  guessKey: string;
  /** Undefined: nothing kept for this spec, or nothing to guess from. */
  tree: Promise<AheadTree | undefined>;
  /** Stops the requests still in flight (the guess is not used). */
  stop(): void;
}

/** Start revalidating the tree last kept for `input.spec`; undefined when the spec names no tree to keep. */
export function startTreeAhead(input: AheadInput): TreeAhead | undefined {
  const guessKey = guessKeyOf(input);
  if (!guessKey || input.flat.offline) return undefined;
  const cache = input.flat.cache as string;
  const stopper = new AbortController();
  const signal = input.signal ? AbortSignal.any([input.signal, stopper.signal]) : stopper.signal;
  const tree = (async (): Promise<AheadTree | undefined> => {
    const startedAt = performance.now();
    const key = await cacache
      .get(cache, guessKey)
      .then((entry) => entry.data.toString())
      .catch(() => undefined);
    const kept = key && (await readKept(cache, key));
    if (!key || !kept || signal.aborted) return undefined;
    const own: Validator[] = [];
    const others: Validator[] = [];
    for (const validator of kept.validators)
      (ownPackument(validator, input.packageName) ? own : others).push(validator);
    const unchanged = allUnchangedBeside(others, { cache, flat: input.flat, signal });
    unchanged.catch(() => undefined);
    return { key, kept, own, others: unchanged, startedAt };
  })();
  tree.catch(() => undefined);
  return { cache, guessKey, tree, stop: () => stopper.abort() };
}

/** Remember `key` as the tree used for the spec of `ahead` (best effort: a guess the next time). */
export async function rememberTree(ahead: TreeAhead, key: string): Promise<void> {
  const guessed = await ahead.tree.catch(() => undefined);
  if (guessed?.key === key) return;
  await cacache.put(ahead.cache, ahead.guessKey, key).catch(() => undefined);
}

/** What the key of a spec's tree is guessed by: everything the tree key names but what fetching the package tells. */
function guessKeyOf(input: AheadInput): string | undefined {
  let spec: string;
  try {
    const parsed = npa(input.spec, input.where);
    if (['tag', 'version', 'range'].includes(parsed.type)) spec = input.spec;
    else if (['file', 'remote'].includes(parsed.type) && parsed.fetchSpec) spec = parsed.fetchSpec;
    else return undefined;
  } catch {
    return undefined;
  }
  // Hashed into a key npm's index shows to whoever reads it: no URL's user and password (tree-cache.ts says why).
  const identity = {
    spec: stripUrlCredentials(spec),
    node: input.nodePath,
    platform: process.platform,
    arch: process.arch,
    registry: input.registry === null ? null : stripUrlCredentials(input.registry),
    settings: resolutionSettings(input.npmConfig),
  };
  return `${GUESS_PREFIX}${createHash('sha256').update(JSON.stringify(identity)).digest('hex')}`;
}

/** The package's own packument: the staging fetches it (or reads a tarball instead) before the key is known. */
function ownPackument(validator: Validator, packageName: string): boolean {
  return decodeURIComponent(validator.url.slice(validator.url.lastIndexOf('/') + 1)) === packageName;
}
