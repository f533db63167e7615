/**
 * A packument from npm's cache, revalidated the short way. pacote goes through make-fetch-happen,
 * whose cache lookup rewrites the index bucket (compaction) on every request and, on a 304, appends a
 * new index entry and streams the body back out of the cache: measured, that machinery was as much CPU
 * as arborist itself in a cold resolution of a 96-package tree against a local registry.
 *
 * Here only where make-fetch-happen would revalidate anyway: the stored answer is one that is never
 * fresh (an ETag and no Cache-Control, Expires or Last-Modified, as Verdaccio sends), stored for the
 * very request pacote makes (full document, same URL and compression), and npm is not told to prefer or
 * use only its cache. Then the same request goes out with If-None-Match, through npm-registry-fetch
 * (auth, scoped registries, proxies and TLS as pacote's), without make-fetch-happen's cache; on a 304 the
 * cached body is read by its integrity (checked) and parsed as pacote would. Anything else (no such
 * entry, another answer, an error) yields undefined and the caller takes pacote's own way, which then
 * decides, reports and caches as always. The document is the one pacote would have returned.
 */
import { createRequire } from 'node:module';
import { format } from 'node:url';
import cacache from 'cacache';
import registryFetch from 'npm-registry-fetch';

const PACOTE_VERSION = (createRequire(import.meta.url)('pacote/package.json') as { version: string }).version;

/** pacote's `accept` for a full packument (fullMetadata), which the stored request must have had. */
export const FULL_DOC = 'application/json';
/** Response headers that can make a stored answer fresh, so that make-fetch-happen would not always ask. */
const FRESHNESS = ['cache-control', 'expires', 'last-modified', 'age', 'pragma'];

/** What of pacote's RegistryFetcher this needs. */
export interface PackumentFetcher {
  packumentUrl: string;
  spec: { name: string | null };
  opts: Record<string, unknown>;
}

interface StoredEntry {
  integrity: string | null;
  metadata?: {
    url?: string;
    status?: number;
    reqHeaders?: Record<string, string>;
    resHeaders?: Record<string, string>;
    options?: { compress?: boolean };
  };
}

/** make-fetch-happen's cache key of a URL (lib/cache/key.js). */
export function cacheKeyOf(url: string): string {
  return `make-fetch-happen:request-cache:${format(new URL(url), { auth: false, fragment: false, search: true, unicode: false })}`;
}

/** The stored answer's ETag when the short way applies to it (see above), else undefined. */
export function revalidatable(entry: StoredEntry | null | undefined, url: string): string | undefined {
  const meta = entry?.metadata;
  if (!entry?.integrity || !meta || meta.status !== undefined || meta.url !== url) return undefined;
  if (meta.options?.compress === false) return undefined;
  const req = meta.reqHeaders ?? {};
  if (req.accept !== FULL_DOC || Object.keys(req).some((name) => name !== 'accept')) return undefined;
  const res = meta.resHeaders ?? {};
  if (FRESHNESS.some((name) => name in res)) return undefined;
  if (res.vary !== undefined && res.vary.toLowerCase() !== 'accept-encoding') return undefined;
  return res.etag;
}

/**
 * The packument pacote's `fetcher` would return, when it could be had the short way; undefined when
 * the caller must take pacote's own (`fetcher.packument()`).
 */
export async function revalidatedPackument(fetcher: PackumentFetcher): Promise<Record<string, unknown> | undefined> {
  const opts = fetcher.opts;
  const cachePath = opts.cache;
  if (typeof cachePath !== 'string' || opts.offline || opts.preferOffline || opts.before) return undefined;
  const url = fetcher.packumentUrl;
  try {
    const entry = (await cacache.get.info(cachePath, cacheKeyOf(url))) as StoredEntry | null;
    const etag = revalidatable(entry, url);
    if (!etag || !entry?.integrity) return undefined;
    const res = await registryFetch(url, {
      ...opts,
      cache: undefined,
      // A failed try is not retried here: pacote's own way retries and reports it.
      retry: { retries: 0 },
      headers: { ...packumentHeaders(fetcher), 'if-none-match': etag },
      spec: fetcher.spec,
      integrity: null,
    });
    // A 304 for another validator than ours would not revalidate the stored answer (http-cache-semantics).
    const answered = res.headers.get('etag');
    if (res.status !== 304 || (answered !== null && answered !== etag)) {
      res.body.resume();
      return undefined;
    }
    const data = (await cacache.get.byDigest(cachePath, entry.integrity)) as Buffer;
    const packument = JSON.parse(data.toString()) as Record<string, unknown>;
    const length = entry.metadata?.resHeaders?.['content-length'];
    if (length) packument._contentLength = Number(length);
    return packument;
  } catch {
    return undefined;
  }
}

/** The headers pacote's RegistryFetcher sends for a full packument (pacote/lib/registry.js #headers). */
export function packumentHeaders(fetcher: Pick<PackumentFetcher, 'spec' | 'opts'>): Record<string, string> {
  const opts = fetcher.opts;
  return {
    'user-agent': (opts.userAgent as string | undefined) || `pacote/${PACOTE_VERSION} node/${process.version}`,
    ...((opts.headers as Record<string, string> | undefined) ?? {}),
    'pacote-version': PACOTE_VERSION,
    'pacote-req-type': 'packument',
    'pacote-pkg-id': `registry:${fetcher.spec.name}`,
    accept: FULL_DOC,
  };
}
