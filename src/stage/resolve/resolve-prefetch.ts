/**
 * Runs inside the resolver child, next to arborist. Arborist walks the tree one node at a time and
 * asks for a packument only when it reaches the edge that needs it, so the ~350 registry requests of
 * a tree like openclaw's are spread over a long chain of round trips (0.2-0.4 s each here: this
 * registry sends no validators and no max-age, so every packument comes back in full). This crawls
 * ahead: from the spec, it fetches each dependency's packument (with arborist's own options, hence
 * the same URL, headers, cache and the same `full:` key), guesses the version arborist will pick
 * (dist-tag `latest` when it satisfies, else the highest match) and goes on with that version's
 * dependencies, many requests at a time. The in-flight promise is put into arborist's packument cache
 * under the key pacote looks up, so arborist awaits the same request instead of making a second one.
 *
 * It only ever fetches earlier what arborist would fetch anyway; arborist still makes every decision
 * from the same documents, so the tree is the same. A wrong guess costs one unneeded request, a
 * missed name is fetched by arborist itself, a failed prefetch is dropped from the cache (pacote does
 * that) so arborist repeats the request and reports the error as it would.
 */
// Before pacote loads: sigstore only when provenance is verified.
import '../../registry/lazy-pacote.js';
// @ts-expect-error no types
import RegistryFetcher from 'pacote/lib/registry.js';
import npaParse from 'npm-package-arg';
import semver from 'semver';
// @ts-expect-error no types
import { checkPlatform } from 'npm-install-checks';
import { type PackumentFetcher, revalidatedPackument } from './packument-revalidate.js';

interface Packument {
  'dist-tags'?: Record<string, string>;
  versions?: Record<string, Manifest>;
}

export interface Manifest {
  version?: string;
  dist?: { tarball?: string; integrity?: string };
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

interface Spec {
  type: string;
  name: string | null;
  rawSpec: string;
  fetchSpec: string | null;
  registry?: boolean;
  subSpec?: Spec;
}
const npa = npaParse as unknown as ((spec: string) => Spec) & { resolve(name: string, range: string): Spec };

/**
 * A packument cache that also holds in-flight requests (pacote awaits whatever `get` returns). It
 * notes each key pacote looks up for arborist (`has`, which pacote asks before every request): the
 * documents the tree was built from, whose validators say later whether it still holds (tree-cache.ts).
 * The crawl's own lookups go through `quiet`, so a guess arborist never needed is not among them.
 */
export class PacketCache extends Map<string, unknown> {
  readonly asked = new Set<string>();
  override has(key: string): boolean {
    this.asked.add(key);
    return super.has(key);
  }
  /** The same cache for the crawl's fetchers: lookups not noted. */
  readonly quiet: Pick<Map<string, unknown>, 'has' | 'get' | 'set' | 'delete'> = {
    has: (key: string) => super.has(key),
    get: (key: string) => super.get(key),
    set: (key: string, value: unknown) => this.set(key, value),
    delete: (key: string) => super.delete(key),
  };
}

/** A dependency's version as the crawl guesses arborist will pick it (fetch-ahead.ts fetches its tarball). */
export interface Guess {
  name: string;
  version: string;
  resolved: string;
  integrity: string;
}

export interface PrefetchStats {
  requests: number;
  /** Start no more requests (those in flight finish; arborist may be awaiting them). */
  stop(): void;
}

const CONCURRENCY = 24;

/**
 * Start crawling from `spec`; returns at once. `options` must be the options arborist passes to
 * pacote (its `options`, with `packumentCache` being `cache`). `seeds`: names the tree very likely
 * holds (the previous release's packages): their packuments are requested at once, after the spec's
 * own, without waiting for the crawl to reach them, so the crawl's levels (each a round trip plus
 * the parsing of every document of the level) no longer follow one another. A seed is only fetched,
 * never followed: the crawl follows it, with the real range, when it reaches it (the same request).
 */
export function prefetchPackuments(
  spec: string,
  options: Record<string, unknown>,
  cache: PacketCache,
  more: {
    seeds?: readonly string[] | undefined;
    onGuess?: ((guess: Guess) => void) | undefined;
    /** The package's own manifest, where the spec is a tarball (no packument to start from). */
    rootManifest?: Manifest | undefined;
  } = {},
): PrefetchStats {
  const { seeds = [], onGuess, rootManifest } = more;
  let stopped = false;
  const stats: PrefetchStats = {
    requests: 0,
    stop: () => {
      stopped = true;
      queue.length = 0;
    },
  };
  const opts: Record<string, unknown> = { ...options, fullMetadata: true, packumentCache: cache.quiet };
  const seen = new Set<string>();
  const queue: Spec[] = [];
  const seeded = new Set<Spec>();
  let active = 0;

  const enqueue = (name: string, range: string) => {
    let parsed: Spec;
    try {
      parsed = npa.resolve(name, range);
      if (parsed.type === 'alias' && parsed.subSpec) parsed = parsed.subSpec;
    } catch {
      return;
    }
    if (!parsed.registry || !parsed.name) return;
    const id = `${parsed.name}@${parsed.fetchSpec}`;
    if (seen.has(id)) return;
    seen.add(id);
    queue.push(parsed);
  };

  const follow = (doc: Packument, parsed: Spec) => {
    if (stopped) return;
    const picked = guess(doc, parsed, opts.defaultTag as string | undefined);
    if (!picked) return;
    if (
      onGuess &&
      parsed !== root &&
      parsed.name &&
      picked.version &&
      picked.dist?.tarball &&
      picked.dist.integrity &&
      forHere(picked)
    ) {
      onGuess({
        name: parsed.name,
        version: picked.version,
        resolved: picked.dist.tarball,
        integrity: picked.dist.integrity,
      });
    }
    enqueueDependencies(picked);
  };
  const enqueueDependencies = (picked: Manifest) => {
    for (const [name, range] of Object.entries({ ...picked.dependencies, ...picked.optionalDependencies }))
      enqueue(name, range);
    for (const [name, range] of Object.entries(picked.peerDependencies ?? {})) {
      if (!picked.peerDependenciesMeta?.[name]?.optional) enqueue(name, range);
    }
  };

  const pump = () => {
    while (!stopped && active < CONCURRENCY && queue.length > 0) {
      const parsed = queue.shift()!;
      const crawled = !seeded.has(parsed);
      let request: Promise<Packument>;
      try {
        const fetcher = new RegistryFetcher(parsed, opts) as PackumentFetcher & { packument(): Promise<Packument> };
        const key = `full:${fetcher.packumentUrl}`;
        if (cache.quiet.has(key)) {
          request = Promise.resolve(cache.quiet.get(key) as Packument | Promise<Packument>);
        } else {
          request = fetchPackument(fetcher, key, cache);
          cache.set(key, request);
          stats.requests++;
        }
      } catch {
        continue;
      }
      active++;
      request
        .then(
          (doc) => crawled && follow(doc, parsed),
          () => undefined,
        )
        .finally(() => {
          active--;
          pump();
        });
    }
  };

  let top: Spec;
  try {
    top = npa(spec);
  } catch {
    return stats;
  }
  // A tarball (file or URL) has no packument: the crawl starts from its manifest's dependencies.
  if (top.registry) enqueue(top.name ?? spec, top.rawSpec || '*');
  else if (rootManifest) enqueueDependencies(rootManifest);
  // A version for another platform is never installed (npm drops such optional packages): not a guess to report.
  const forHere = (manifest: Manifest) => {
    try {
      checkPlatform(manifest, false, { os: opts.os, cpu: opts.cpu, libc: opts.libc });
      return true;
    } catch {
      return false;
    }
  };
  // The package itself: its tarball is staging's own; only its dependencies are guesses to report.
  const root = top.registry ? queue[0] : undefined;
  for (const name of seeds) {
    const before = queue.length;
    enqueue(name, '*');
    if (queue.length > before) seeded.add(queue.at(-1)!);
  }
  pump();
  return stats;
}

/**
 * The short way (packument-revalidate.ts) or else pacote's own; either way the document replaces the
 * in-flight promise under `key` when it arrives, and a failure removes it (as pacote does), so arborist
 * asks again and reports the error as it would.
 */
async function fetchPackument(
  fetcher: PackumentFetcher & { packument(): Promise<Packument> },
  key: string,
  cache: PacketCache,
): Promise<Packument> {
  const revalidated = (await revalidatedPackument(fetcher)) as Packument | undefined;
  if (revalidated) {
    cache.set(key, revalidated);
    return revalidated;
  }
  // pacote looks in the cache first, where this very request waits: out of its way while it starts.
  cache.quiet.delete(key);
  const own = fetcher.packument();
  cache.set(key, own);
  return own;
}

function guess(doc: Packument, parsed: Spec, defaultTag = 'latest'): Manifest | undefined {
  const versions = doc.versions ?? {};
  const tags = doc['dist-tags'] ?? {};
  const spec = parsed.fetchSpec ?? '*';
  if (parsed.type === 'tag') return versions[tags[spec] ?? ''];
  if (parsed.type === 'version') return versions[spec];
  const latest = tags[defaultTag];
  if (latest && versions[latest] && semver.satisfies(latest, spec, { loose: true })) return versions[latest];
  const best = semver.maxSatisfying(Object.keys(versions), spec, { loose: true });
  return best ? versions[best] : undefined;
}
