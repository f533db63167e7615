/** Spec → exact version (pacote) → tarball on disk, verified against its integrity. */
// Before pacote loads: sigstore only when provenance is verified.
import './lazy-pacote.js';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import cacache from 'cacache';
import npa from 'npm-package-arg';
import pacote from 'pacote';
import { strongestHashes } from './integrity.js';
import type { PacoteManifest, PacoteOptions, ParsedSpec } from '../model/npm-types.js';
import semver from 'semver';
import type { Config } from '../store/config.js';
import {
  ReleaseSwitcherError,
  asBadTarball,
  asDiskFull,
  errnoOf,
  isCorruptTarball,
  isReleaseSwitcherError,
} from '../model/errors.js';
import { pathExists } from '../platform/fs.js';
import { makeNpmCachePrivate } from '../platform/npm-cache.js';
import { credentialsAsAuth, refuseSpecCredentials } from '../platform/npm-credentials.js';
import type { ResolvedRuntime } from '../model/runtime.js';
import { checkResolvedVersion } from './version-check.js';
import {
  type DependencyPlan,
  KeyCache,
  type SignatureRecord,
  dependencyPlan,
  judgeSignatures,
  planSignatures,
  signatureError,
  tarballSignatures,
} from './signatures.js';
import { asPackageJson } from '../platform/package-json.js';
import { networkDeadlines, withNetworkDeadline } from './network.js';
import { channelTag } from './dist-tags.js';
import { fileTarballManifest, remoteTarballManifest } from './tarball-manifest.js';

/** The parts of a registry packument release-switcher reads (our own shape: the public types never name pacote's). */
export interface PackumentView {
  'dist-tags': Record<string, string | undefined>;
  versions: Record<string, { deprecated?: string | boolean | undefined } | undefined>;
  /** Publish time (ISO-8601) by version; in the full document only. */
  time?: Record<string, string | undefined>;
}

/**
 * A packument read afresh (a cached one would hide a deprecation or a moved tag), within npm's network deadlines;
 * `fullMetadata` for publish times and deprecations, else npm's abbreviated document (dist-tags, versions).
 */
export async function fetchPackument(
  config: Config,
  runtime: ResolvedRuntime,
  options: { fullMetadata?: boolean } = {},
): Promise<PackumentView> {
  try {
    return await withNetworkDeadline(
      { npmConfig: runtime.npmConfig, signal: runtime.signal, what: `the packument of ${config.package}` },
      (signal) =>
        pacote.packument(
          config.package,
          pacoteOptions(config, runtime, { fullMetadata: options.fullMetadata === true, preferOnline: true, signal }),
        ),
    );
  } catch (error) {
    throw fetchError(error, config.package);
  }
}

/**
 * Turn what the user typed into a full npm spec for the managed package: `1.2.3`, `^1.2`, `beta`
 * and the bare package name are read as versions, ranges and tags of it.
 */
export function normalizeSpec(spec: string, config: Config): string {
  const trimmed = spec.trim();
  if (trimmed === '') throw invalidSpec(spec, 'it is empty');
  refuseSpecCredentials(trimmed);
  // The bare name: config.json's channel's tag (an update without a version follows the whole rule: transaction/channel.ts).
  if (trimmed === config.package) return `${config.package}@${channelTag(config.channel ?? 'stable')}`;
  if (semver.valid(trimmed) || (semver.validRange(trimmed) && /^[\d^~<>=*xX| .-]/.test(trimmed)))
    return `${config.package}@${trimmed}`;
  return trimmed;
}

function invalidSpec(spec: string, why: string, cause?: unknown) {
  return new ReleaseSwitcherError('INVALID_SPEC', `Cannot use "${spec}" as a package spec: ${why}.`, {
    hint: 'Use NAME@VERSION, NAME@TAG, NAME@RANGE, a .tgz path or a tarball URL.',
    cause,
  });
}

/** pacote's options: npm's settings, a registry URL's user and password as its `_auth` (platform/npm-credentials.ts). */
export function pacoteOptions(config: Config, runtime: ResolvedRuntime, extra: PacoteOptions = {}): PacoteOptions {
  makeNpmCachePrivate(runtime.npmCache);
  return credentialsAsAuth({
    ...runtime.npmConfig,
    ...(config.registry ? { registry: config.registry } : {}),
    cache: `${runtime.npmCache}/_cacache`,
    // npm's fetch-timeout, as the idle deadline of every socket (pacote takes it as `timeout`).
    timeout: networkDeadlines(runtime.npmConfig).idleMs,
    ...extra,
  });
}

export { strongestHashes } from './integrity.js';

export interface ResolvedPackage {
  spec: string;
  name: string;
  version: string;
  /** Where the tarball comes from (URL or file path). */
  resolved: string;
  integrity: string | null;
  manifest: PacoteManifest;
  /** What was verified of the registry's signature (see registry/signatures.ts). */
  signatures: SignatureRecord;
  /** pacote options that verify the dependencies' signatures as they are resolved; null: not verified. */
  dependencySignatures: DependencyPlan | null;
  /** The document the version was picked from, for the resolver (`forStaging` registry specs only). */
  packument?: PackumentHandoff;
}

/**
 * The package's packument as the registry sent it, handed to the dependency resolver (a child process) so
 * that it starts from the very document the version was picked and its signature checked from, instead of
 * fetching it a second time (openclaw's is 9.9 MB). The resolver still picks and verifies from it exactly
 * as from a fetched one.
 */
export interface PackumentHandoff {
  /** pacote's packument-cache key for it: `full:<packument URL>`. */
  key: string;
  /** The document as JSON, taken when it arrived (before pacote normalised the manifest it picked, in place). */
  json: string;
  /** When it was asked for (ms since the epoch): npm's cache entry for it written since holds what the registry sent then. */
  askedAt: number;
}

/** A pacote packument cache that keeps each full document as JSON the moment pacote stores it. */
class RecordingCache extends Map<string, unknown> {
  readonly documents = new Map<string, string>();
  override set(key: string, value: unknown): this {
    const settled =
      value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then !== 'function';
    if (settled && key.startsWith('full:')) this.documents.set(key, JSON.stringify(value));
    return super.set(key, value);
  }
}

/** What every registry call needs. */
export interface RegistryRequest {
  config: Config;
  runtime: ResolvedRuntime;
  /** The folder a relative file spec is resolved from (the caller's cwd, or the root). */
  where: string;
}

export interface ResolveRequest extends RegistryRequest {
  /** More pacote options (a dry run asks for `fullMetadata`). @default {} */
  extra?: PacoteOptions;
  /**
   * The version will be staged: fetch the full document (what the resolver needs) and return it as
   * `packument`, so that one install fetches the package's packument once. @default false
   */
  forStaging?: boolean;
}

export async function resolvePackage(rawSpec: string, request: ResolveRequest): Promise<ResolvedPackage> {
  const { config, runtime, where, extra = {}, forStaging = false } = request;
  const spec = normalizeSpec(rawSpec, config);
  let parsed: ParsedSpec;
  try {
    parsed = npa(spec, where);
  } catch (error) {
    throw invalidSpec(rawSpec, (error as Error).message, error);
  }
  if (!['tag', 'version', 'range', 'file', 'remote'].includes(parsed.type)) {
    throw invalidSpec(rawSpec, `${parsed.type} specs are not supported`);
  }
  if (parsed.name && parsed.name !== config.package) throw wrongPackage(rawSpec, parsed.name, config);
  if (parsed.type === 'file' && parsed.fetchSpec && !(await pathExists(parsed.fetchSpec))) {
    throw new ReleaseSwitcherError('PACKAGE_NOT_FOUND', `No such tarball: ${parsed.fetchSpec}.`, {
      hint: 'Check the path.',
    });
  }
  const fromRegistry = ['tag', 'version', 'range'].includes(parsed.type);
  // Before anything is fetched: `always` refuses a tarball outright.
  const tarballRecord = fromRegistry ? undefined : tarballSignatures(rawSpec, config.verifySignatures);
  const handoff = fromRegistry && forStaging;
  // Only a staging call pays for keeping the document (JSON.stringify of openclaw's: ~0.1 s).
  const packumentCache = handoff ? new RecordingCache() : new Map<string, unknown>();
  const opts = pacoteOptions(config, runtime, {
    where,
    packumentCache,
    ...(handoff ? { fullMetadata: true } : {}),
    ...extra,
  });
  const keys = new KeyCache(pacoteOptions(config, runtime));
  let manifest!: PacoteManifest;
  let signatures!: SignatureRecord;
  let dependencySignatures: DependencyPlan | null = null;
  const askedAt = Date.now();
  try {
    await withNetworkDeadline(
      { npmConfig: runtime.npmConfig, signal: runtime.signal, what: `resolving ${spec}` },
      async (signal) => {
        Object.assign(opts, { signal });
        // A staging's full document is asked for beside the registry's keys, not after them: pacote.manifest
        // below then takes it from packumentCache (a failure is left for that call to report).
        const document = handoff ? pacote.packument(spec, opts).catch(() => undefined) : undefined;
        const plan = fromRegistry ? await planSignatures(spec, config.verifySignatures, opts, keys) : null;
        await document;
        // Verification reads the full document; the version check below then reuses it from packumentCache.
        const verifying = plan?.pacote.verifySignatures ? { fullMetadata: true } : {};
        manifest =
          (await tarballManifest(parsed, spec, opts)) ??
          (await pacote.manifest(spec, { ...opts, ...verifying, ...plan?.pacote }));
        Object.assign(opts, verifying);
        signatures = tarballRecord ?? judgeSignatures(spec, plan, manifest);
        if (fromRegistry) dependencySignatures = await dependencyPlan(config.verifySignatures, opts, keys);
      },
    );
  } catch (error) {
    // The tarball exists (checked above), so a missing file is its package.json.
    if (parsed.type === 'file' && errnoOf(error) === 'ENOENT') {
      throw new ReleaseSwitcherError('BAD_PACKAGE_JSON', `${parsed.fetchSpec} has no package.json.`, {
        hint: 'The tarball is not an installable npm package.',
        cause: error,
      });
    }
    // npm's package.json normalizer throws plain TypeErrors on a package.json that is not an object.
    if (fromPackageJsonNormalizer(error)) {
      throw new ReleaseSwitcherError('BAD_PACKAGE_JSON', `${rawSpec}: its package.json is not a package manifest.`, {
        hint: 'The package is not an installable npm package (its package.json must be an object).',
        cause: error,
      });
    }
    throw fetchError(error, spec);
  }
  asPackageJson(manifest, `${rawSpec}: its package.json`);
  if (typeof manifest.name !== 'string' || typeof manifest.version !== 'string') {
    throw new ReleaseSwitcherError('BAD_PACKAGE_JSON', `${rawSpec}: its package.json has no name or version.`, {
      hint: 'The package is not an installable npm package.',
    });
  }
  if (manifest.name !== config.package) throw wrongPackage(rawSpec, manifest.name, config);
  const version = await checkResolvedVersion({
    parsed,
    manifest,
    spec: rawSpec,
    packument: () =>
      withNetworkDeadline(
        { npmConfig: runtime.npmConfig, signal: runtime.signal, what: `the packument of ${spec}` },
        (signal) => pacote.packument(spec, { ...opts, signal }),
      ),
  });
  // The one full document fetched for the spec (a registry spec fetches exactly one packument here).
  const [recorded] = packumentCache instanceof RecordingCache ? packumentCache.documents : [];
  return {
    spec,
    name: manifest.name,
    version,
    resolved: manifest._resolved,
    integrity: manifest._integrity ?? manifest.dist?.integrity ?? null,
    manifest,
    signatures,
    dependencySignatures,
    ...(recorded ? { packument: { key: recorded[0], json: recorded[1], askedAt } } : {}),
  };
}

/**
 * A tarball's manifest (a file's or a URL's) without extracting all of it (tarball-manifest.ts); undefined for a
 * registry spec, or where only pacote's way can tell (which takes a URL's tarball from npm's cache, where this left it).
 */
async function tarballManifest(
  parsed: ParsedSpec,
  spec: string,
  opts: PacoteOptions,
): Promise<PacoteManifest | undefined> {
  if (parsed.type === 'file' && parsed.fetchSpec)
    return await fileTarballManifest(parsed.fetchSpec, parsed.saveSpec ?? spec, opts);
  if (parsed.type === 'remote') return await remoteTarballManifest(spec, opts);
  return undefined;
}

function fromPackageJsonNormalizer(error: unknown): boolean {
  return /[\\/]@npmcli[\\/]package-json[\\/]/.test((error as Error | undefined)?.stack ?? '');
}

function wrongPackage(spec: string, name: string, config: Config) {
  return new ReleaseSwitcherError(
    'WRONG_PACKAGE',
    `"${spec}" names ${name}, but this root manages ${config.package}.`,
    {
      hint: `Use ${config.package}@VERSION, or another --root for ${name}.`,
    },
  );
}

/** Download the tarball to `dest`; pacote checks it against `integrity` while writing. */
export async function downloadTarball(pkg: ResolvedPackage, dest: string, request: RegistryRequest): Promise<string> {
  const { config, runtime, where } = request;
  // A tarball file by the absolute path it was resolved to: the spec may be relative to the caller's cwd.
  const spec = /^https?:/.test(pkg.resolved)
    ? `${pkg.name}@${pkg.resolved}`
    : path.isAbsolute(pkg.resolved)
      ? `file:${pkg.resolved}`
      : pkg.spec;
  try {
    const options = pacoteOptions(config, runtime);
    if (pkg.integrity && /^https?:/.test(pkg.resolved) && typeof options.cache === 'string') {
      const copied = await copyFromCache(options.cache, pkg.integrity, dest);
      if (copied) return copied;
    }
    const result = await withNetworkDeadline(
      { npmConfig: runtime.npmConfig, signal: runtime.signal, what: `downloading ${pkg.spec}` },
      (signal) =>
        pacote.tarball.file(spec, dest, {
          ...options,
          where,
          signal,
          ...(pkg.integrity ? { integrity: pkg.integrity } : {}),
        }),
    );
    return result.integrity;
  } catch (error) {
    throw fetchError(error, pkg.spec);
  }
}

/**
 * A registry tarball straight from npm's cache when it holds content of this integrity: copied by the
 * kernel, then read back in 1 MB pieces and checked against the integrity. pacote's own cache read
 * goes through cacache's reads of up to 64 MB each: openclaw's 95 MB tarball sat whole in our heap
 * through the resolution. Undefined, with nothing left at `dest`, when the cache does not hold it or
 * what it holds does not match (pacote's way then fetches it again and reports as always).
 */
async function copyFromCache(cache: string, integrity: string, dest: string): Promise<string | undefined> {
  const expected = strongestHashes(integrity);
  if (!expected || !(await cacheGet.hasContent(cache, integrity).catch(() => false))) return undefined;
  try {
    await cacheGet.copy.byDigest(cache, integrity, dest);
    const hash = createHash(expected.algorithm);
    for await (const chunk of createReadStream(dest, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
    if (expected.digests.includes(hash.digest('base64'))) return integrity;
  } catch {
    // An entry gone or unreadable meanwhile: pacote's way.
  }
  await fs.rm(dest, { force: true });
  return undefined;
}

/** Whether npm's cache (`<cache>/_cacache`) holds content of this integrity (not checked: a read checks it). */
export async function inNpmCache(cache: string, integrity: string): Promise<boolean> {
  return Boolean(await cacheGet.hasContent(cache, integrity).catch(() => false));
}

/** What cacache has and its type declarations do not list. */
const cacheGet = cacache.get as unknown as {
  hasContent(cache: string, integrity: string): Promise<false | { size: number }>;
  copy: { byDigest(cache: string, integrity: string, dest: string): Promise<unknown> };
};

/** OpenSSL's verdicts on a peer's certificate, as Node reports them (SELF_SIGNED_CERT_IN_CHAIN, CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID…). */
function isTlsError(code: string | undefined): boolean {
  return code !== undefined && (/CERT|^ERR_TLS_|^ERR_SSL_/.test(code) || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
}

/** Map pacote / npm-registry-fetch / fs errors to our codes. */
export function fetchError(error: unknown, spec: string): unknown {
  if (isReleaseSwitcherError(error)) return error;
  const signature = signatureError(error, spec);
  if (signature) return signature;
  const code = errnoOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const make = (ours: ConstructorParameters<typeof ReleaseSwitcherError>[0], text: string, hint: string) =>
    new ReleaseSwitcherError(ours, text, { hint, cause: error, details: code ? { upstreamCode: code } : undefined });
  if (isCorruptTarball(error)) return asBadTarball(error, spec);
  switch (code) {
    case 'E404':
      return make(
        'PACKAGE_NOT_FOUND',
        `The registry has no package for ${spec}.`,
        'Check the package name and --registry.',
      );
    case 'ETARGET':
      return make(
        'VERSION_NOT_FOUND',
        `No version matches ${spec}.`,
        `See what exists with: npm view ${spec.replace(/@[^@]*$/, '')} versions`,
      );
    case 'EINTEGRITY':
      return make(
        'INTEGRITY_MISMATCH',
        `The tarball for ${spec} does not match its integrity (${message}).`,
        'Someone or something changed the tarball: do not install it. Try again later or report it to the registry.',
      );
    case 'ENOENT':
      return make('PACKAGE_NOT_FOUND', `No such tarball: ${spec}.`, 'Check the path.');
    case 'EMANIFESTMISMATCH':
      return make(
        'INVALID_VERSION',
        `The registry answered ${spec} with metadata of another package or version: ${message}`,
        'The registry (or something between it and you) serves inconsistent metadata; nothing was installed.',
      );
    case 'EINVALIDPACKAGENAME':
    case 'EINVALIDTAGNAME':
    case 'EUNSUPPORTEDPROTOCOL':
      return make(
        'INVALID_SPEC',
        `Cannot use "${spec}": ${message}`,
        'Use NAME@VERSION, NAME@TAG, a .tgz path or a tarball URL.',
      );
    case 'ENOSPC':
    case 'EDQUOT':
      return asDiskFull(error, `downloading ${spec}`);
    case 'ENOTFOUND':
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'ETIMEDOUT':
    case 'EAI_AGAIN':
      return make(
        'FETCH_FAILED',
        `Cannot reach the registry for ${spec} (${code}).`,
        'Check the network and the registry URL (--registry or .npmrc).',
      );
    case 'EIDLETIMEOUT':
    case 'ECONNECTIONTIMEOUT':
    case 'ERESPONSETIMEOUT':
    case 'ETRANSFERTIMEOUT':
      return make(
        'FETCH_FAILED',
        `The registry stopped answering for ${spec}: ${message} (no byte within npm's fetch-timeout).`,
        'The registry or the network stalls; try again, or raise npm fetch-timeout (npm config set fetch-timeout MS).',
      );
    default:
      if (/^E[45]\d\d$/.test(code ?? '') || /premature|unexpected end|truncat/i.test(message)) {
        return make('FETCH_FAILED', `Downloading ${spec} failed: ${message}`, 'Try again; check the registry.');
      }
      if (/invalid package\.json|JSON/i.test(message) || code === 'EJSONPARSE') {
        return make(
          'BAD_PACKAGE_JSON',
          `package.json of ${spec} is missing or invalid: ${message}`,
          'The tarball is not an installable npm package.',
        );
      }
      if (isTlsError(code)) {
        return make(
          'FETCH_FAILED',
          `The registry's certificate is not trusted, so ${spec} was not fetched (${code}): ${message}`,
          'Give Node the CA that signs it (NODE_EXTRA_CA_CERTS=/path/to/ca.pem in the environment, or cafile= in .npmrc); do not turn strict-ssl off for the registry your releases come from.',
        );
      }
      // Whatever else the HTTP client reports (a socket error, a timeout) is the network's, not a bug.
      if ((error as { name?: string } | null)?.name === 'FetchError') {
        return make(
          'FETCH_FAILED',
          `Cannot fetch ${spec} from the registry: ${message}`,
          'Check the network and the registry URL (--registry or .npmrc), then try again.',
        );
      }
      return error;
  }
}
