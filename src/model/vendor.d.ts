// Minimal typings for the parts of npm's own libraries we call (they ship no types).

declare module 'pacote' {
  export type PacoteOptions = import('./npm-types.js').PacoteOptions;
  export type PacoteManifest = import('./npm-types.js').PacoteManifest;
  export type Packument = import('./npm-types.js').Packument;
  export function manifest(spec: string, opts?: PacoteOptions): Promise<PacoteManifest>;
  export function packument(spec: string, opts?: PacoteOptions): Promise<Packument>;
  /** The fetcher of a tarball URL (`remote` specs); tarballStream calls `handler` with the tarball's bytes, again on a retry. */
  export class RemoteFetcher {
    constructor(spec: string, opts?: PacoteOptions);
    /** The URL fetched (the registry's host put in where pacote's replaceRegistryHost says). */
    readonly resolved: string;
    /** The spec as a manifest's `_from` gives it. */
    readonly from: string;
    tarballStream<T>(handler: (stream: NodeJS.ReadableStream) => Promise<T>): Promise<T>;
  }
  export const tarball: {
    file(
      spec: string,
      dest: string,
      opts?: PacoteOptions,
    ): Promise<{ integrity: string; resolved: string; from: string }>;
  };
}

declare module 'npm-package-arg' {
  type Result = import('./npm-types.js').ParsedSpec;
  function npa(spec: string, where?: string): Result;
  export default npa;
}

declare module '@npmcli/run-script' {
  interface RunScriptOptions {
    event: string;
    path: string;
    pkg?: Record<string, unknown>;
    env?: Record<string, string | undefined>;
    stdio?: 'pipe' | 'inherit';
    scriptShell?: string;
    binPaths?: string[] | false;
  }
  function runScript(
    options: RunScriptOptions,
  ): Promise<{ code: number; signal: string | null; stdout: string; stderr: string }>;
  export default runScript;
}

declare module 'npm-normalize-package-bin' {
  /** npm's own reading of a package.json's `bin` (string or map; names and paths made safe). */
  export default function normalize<T extends object>(pkg: T): T & { bin?: Record<string, string> };
}

declare module 'npm-registry-fetch' {
  /** The registry npm would fetch `spec` from (`@scope:registry`, else `registry`, else registry.npmjs.org). */
  export function pickRegistry(spec: string, opts?: Record<string, unknown>): string;
  /** GET `path` on `opts.registry` with npm's auth, proxy and cache handling; the parsed JSON body. */
  export function json(path: string, opts?: Record<string, unknown>): Promise<unknown>;
  /** The response of one request (minipass-fetch's): status, headers, a body stream. */
  export interface RegistryResponse {
    status: number;
    headers: { get(name: string): string | null };
    body: { resume(): void };
  }
  /** GET `url` with npm's auth, proxy, retry and (with `opts.cache`, a path) cache handling; 4xx/5xx reject. */
  function fetch(url: string, opts?: Record<string, unknown>): Promise<RegistryResponse>;
  const registryFetch: typeof fetch & { pickRegistry: typeof pickRegistry; json: typeof json };
  export default registryFetch;
}

declare module 'cacache' {
  /** An index entry of npm's content-addressed cache (the newest for its key), or null. */
  interface CacheEntry {
    key: string;
    integrity: string | null;
    time: number;
    size: number;
    metadata?: unknown;
  }
  function get(cache: string, key: string, opts?: Record<string, unknown>): Promise<{ data: Buffer }>;
  namespace get {
    function info(cache: string, key: string): Promise<CacheEntry | null>;
    /** The content with this integrity, checked against it (EINTEGRITY otherwise). */
    function byDigest(cache: string, integrity: string): Promise<Buffer>;
  }
  /** Store `data` under `key` (content written, then the index entry appended: atomic for readers). */
  function put(cache: string, key: string, data: string | Buffer): Promise<string>;
  const cacache: { get: typeof get; put: typeof put };
  export default cacache;
}
