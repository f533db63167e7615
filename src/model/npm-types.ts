/**
 * The shapes of what pacote and npm-package-arg take and return, as far as we use them. They live in a module of
 * ours, not only in vendor.d.ts (an ambient file that is not published): a public declaration that named
 * `from 'pacote'` would leave a consumer of the package, compiling with `skipLibCheck: false`, with TS7016
 * (those packages ship no types). vendor.d.ts declares the modules in terms of these.
 */

export interface PacoteOptions {
  registry?: string;
  cache?: string;
  integrity?: string;
  fullMetadata?: boolean;
  preferOnline?: boolean;
  where?: string;
  [npmrcKey: string]: unknown;
}

export interface PacoteManifest {
  name: string;
  version: string;
  engines?: Record<string, string>;
  dist?: { tarball?: string; integrity?: string; unpackedSize?: number; fileCount?: number };
  _resolved: string;
  _integrity?: string;
  _from: string;
  [key: string]: unknown;
}

export interface Packument {
  name: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, PacoteManifest & { deprecated?: string }>;
  time?: Record<string, string>;
}

/** What npm-package-arg makes of a spec. */
export interface ParsedSpec {
  type: 'git' | 'tag' | 'version' | 'range' | 'file' | 'directory' | 'remote' | 'alias';
  name: string | null;
  rawSpec: string;
  fetchSpec: string | null;
  /** What npm saves for it (`file:…` for a tarball), pacote's `_from`. */
  saveSpec?: string | null;
  registry?: boolean;
}
