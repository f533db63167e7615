/**
 * Registry signatures, as `npm audit signatures` checks them: the registry publishes its public keys
 * at `<registry>/-/npm/v1/keys`, and each version's `dist.signatures` holds ECDSA P-256 signatures
 * over `${name}@${version}:${integrity}`. pacote verifies them when given `verifySignatures: true`
 * and the keys under `//<host><path>:_keys` (EINTEGRITYSIGNATURE, EMISSINGSIGNATUREKEY,
 * EEXPIREDSIGNATUREKEY); what pacote lets pass silently, a version without any signature on a
 * registry that publishes keys, is refused here. Since the signature covers the integrity and the
 * tarball is checked against that integrity, a verified manifest vouches for the tarball too.
 */
import registryFetch from 'npm-registry-fetch';
import type { PacoteManifest, PacoteOptions } from '../model/npm-types.js';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import type { SignaturePolicy } from '../store/config.js';
import type { SignatureRecord, SignatureStatus } from '../store/manifest.js';
import { withoutCredentials } from '../store/config.js';

const DEFAULT_REGISTRY = 'https://registry.npmjs.org/';

/** One key of `GET /-/npm/v1/keys`, plus the PEM form pacote verifies with. */
export interface RegistryKey {
  keyid: string;
  /** Base64 SPKI DER. */
  key: string;
  keytype?: string;
  scheme?: string;
  expires: string | null;
  pemkey: string;
}

/** Codes pacote throws when a signature or attestation does not hold. */
export const SIGNATURE_ERRORS = new Set([
  'EINTEGRITYSIGNATURE',
  'EMISSINGSIGNATUREKEY',
  'EEXPIREDSIGNATUREKEY',
  'EATTESTATIONVERIFY',
  'EATTESTATIONSUBJECT',
]);

/** The registry a spec is fetched from, exactly as pacote (npm-registry-fetch) picks it. */
export function registryOf(spec: string, opts: PacoteOptions): string {
  return registryFetch.pickRegistry(spec, opts);
}

/** pacote's option key for a registry's keys: `//host/path:_keys`, matched exactly. */
export function keysOptionName(registry: string): string {
  const url = new URL(registry);
  return `//${url.host}${url.pathname}:_keys`;
}

/**
 * The registry's keys, or null when it publishes none (404/400, or an empty list). Anything else a
 * registry answers (5xx, no connection, not a key list) is an error: whether it has keys cannot be
 * told, so verification cannot be silently skipped.
 */
export async function fetchRegistryKeys(registry: string, opts: PacoteOptions): Promise<RegistryKey[] | null> {
  let body: unknown;
  try {
    body = await registryFetch.json('/-/npm/v1/keys', { ...opts, registry, preferOnline: true, integrity: null });
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'E404' || code === 'E400') return null;
    throw error;
  }
  const keys = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.some((k) => typeof k?.keyid !== 'string' || typeof k?.key !== 'string')) {
    throw new ReleaseSwitcherError(
      'FETCH_FAILED',
      `${registry}-/npm/v1/keys answered something that is not a list of keys.`,
      {
        hint: 'The registry (or a proxy in front of it) answers its keys endpoint wrongly; nothing was installed.',
      },
    );
  }
  if (keys.length === 0) return null;
  return keys.map((k: { keyid: string; key: string; keytype?: string; scheme?: string; expires?: string | null }) => ({
    keyid: k.keyid,
    key: k.key,
    ...(k.keytype ? { keytype: k.keytype } : {}),
    ...(k.scheme ? { scheme: k.scheme } : {}),
    expires: k.expires ?? null,
    pemkey: `-----BEGIN PUBLIC KEY-----\n${k.key}\n-----END PUBLIC KEY-----`,
  }));
}

/** Keys fetched once per call, per registry. */
export class KeyCache {
  readonly #keys = new Map<string, Promise<RegistryKey[] | null>>();
  constructor(private readonly opts: PacoteOptions) {}

  get(registry: string): Promise<RegistryKey[] | null> {
    let keys = this.#keys.get(registry);
    if (!keys) {
      keys = fetchRegistryKeys(registry, this.opts);
      this.#keys.set(registry, keys);
    }
    return keys;
  }
}

/** What to verify for one registry spec under a policy. */
export interface SignaturePlan {
  policy: SignaturePolicy;
  registry: string;
  keys: RegistryKey[] | null;
  /** Extra pacote options: `verifySignatures` and the keys, when there is something to verify against. */
  pacote: PacoteOptions;
}

export async function planSignatures(
  spec: string,
  policy: SignaturePolicy,
  opts: PacoteOptions,
  cache: KeyCache,
): Promise<SignaturePlan | null> {
  if (policy === 'never') return null;
  const registry = registryOf(spec, opts);
  const keys = await cache.get(registry);
  return { policy, registry, keys, pacote: keys ? { verifySignatures: true, [keysOptionName(registry)]: keys } : {} };
}

/**
 * The verdict on a manifest pacote returned (it has already thrown for a bad signature): refuse a
 * missing signature where the registry publishes keys, and anything unverified under `always`.
 */
export function judgeSignatures(spec: string, plan: SignaturePlan | null, manifest: PacoteManifest): SignatureRecord {
  const provenance = Boolean(
    (manifest.dist as { attestations?: { provenance?: unknown } } | undefined)?.attestations?.provenance,
  );
  if (!plan) return { status: 'skipped', provenance };
  // Recorded in the release's marker (immutable, world-readable) and shown in errors: never with credentials.
  const registry = withoutCredentials(plan.registry);
  const signatures = (manifest._signatures as { keyid: string }[] | undefined) ?? [];
  if (!plan.keys) {
    if (plan.policy === 'always') {
      throw signatureInvalid(
        `${registry} publishes no signing keys (-/npm/v1/keys), so ${spec} cannot be verified, and --verify-signatures is always`,
        { registry },
      );
    }
    return { status: 'unsigned', provenance, registry: registry };
  }
  if (signatures.length === 0) {
    throw signatureInvalid(
      `${manifest.name}@${manifest.version} has no registry signature, but ${registry} publishes signing keys`,
      { registry },
    );
  }
  return { status: 'verified', provenance, registry, keyids: signatures.map((s) => s.keyid) };
}

/** A tarball (path or URL) carries no registry signature. */
export function tarballSignatures(spec: string, policy: SignaturePolicy): SignatureRecord {
  if (policy === 'always') {
    throw signatureInvalid(
      `${spec} is a tarball, not a registry version: it carries no registry signature, and --verify-signatures is always`,
      {},
    );
  }
  return { status: 'skipped', provenance: false };
}

export function signatureInvalid(why: string, details: Record<string, unknown>, cause?: unknown): ReleaseSwitcherError {
  return new ReleaseSwitcherError('SIGNATURE_INVALID', `Registry signature check failed: ${why}.`, {
    hint: 'Do not install it: the metadata may have been tampered with, or the registry or a mirror serves what it did not sign. Only if you know why and trust the source, override it for one call with --verify-signatures never.',
    cause,
    details,
  });
}

/** pacote's signature errors (for the package or, at resolution, a dependency) as SIGNATURE_INVALID. */
export function signatureError(error: unknown, spec: string): ReleaseSwitcherError | undefined {
  const code = errnoOf(error);
  if (!code || !SIGNATURE_ERRORS.has(code)) return undefined;
  const message = error instanceof Error ? error.message : String(error);
  return signatureInvalid(`${message} (${code}, installing ${spec})`, { upstreamCode: code }, error);
}

/**
 * pacote options that make arborist verify every dependency it resolves, when every registry the
 * dependencies can come from (the default one and each `@scope:registry`) publishes keys; under
 * `always` a registry without keys gets an empty list, so a dependency from it fails. Null: the
 * dependencies are not verified (policy never, or auto with a registry that publishes no keys).
 */
export async function dependencyPlan(
  policy: SignaturePolicy,
  opts: PacoteOptions,
  cache: KeyCache,
): Promise<DependencyPlan | null> {
  if (policy === 'never') return null;
  const registries = new Map<string, string>(); // scope ('' = default) → registry
  registries.set('', (opts.registry as string | undefined) ?? DEFAULT_REGISTRY);
  for (const [key, value] of Object.entries(opts)) {
    if (/^@[^/:]+:registry$/.test(key) && typeof value === 'string')
      registries.set(key.slice(0, -':registry'.length), value);
  }
  const keyed = await Promise.all(
    [...new Set(registries.values())].map(async (registry) => [registry, await cache.get(registry)] as const),
  );
  if (policy === 'auto' && keyed.some(([, keys]) => !keys)) return null;
  const pacote: PacoteOptions = { verifySignatures: true };
  for (const [registry, keys] of keyed) pacote[keysOptionName(registry)] = keys ?? [];
  return { pacote, registries: [...registries.values()] };
}

export interface DependencyPlan {
  pacote: PacoteOptions;
  /** Every registry a dependency may come from: a resolved URL under one of them is a registry dependency. */
  registries: string[];
}

/** A dependency without a signature where its registry publishes keys is SIGNATURE_INVALID (a bad one failed resolution already). */
export function refuseUnsignedDependencies(
  plan: DependencyPlan | null,
  deps: Parameters<typeof unsignedDependencies>[1],
  of: string,
): void {
  const unsigned = plan ? unsignedDependencies(plan, deps) : [];
  if (unsigned.length === 0) return;
  const some = `${unsigned.slice(0, 5).join(', ')}${unsigned.length > 5 ? ', …' : ''}`;
  const what = unsigned.length === 1 ? `1 dependency of ${of} has` : `${unsigned.length} dependencies of ${of} have`;
  throw signatureInvalid(`${what} no registry signature (${some}), but the registry publishes signing keys`, {
    unsigned,
  });
}

/**
 * The package's record with the dependencies' verdict: verified at resolution and staged from that very tree,
 * unless a full npm install fetched them itself (`fallback`), which verifies nothing.
 */
export function withDependencies(
  record: SignatureRecord,
  plan: DependencyPlan | null,
  fallback: string | null,
): SignatureRecord {
  const dependencies: SignatureStatus =
    record.status === 'skipped' || fallback !== null ? 'skipped' : plan ? 'verified' : 'unsigned';
  return { ...record, dependencies };
}

/** Dependencies resolved from a registry that carry no signature (verified ones passed pacote already). */
export function unsignedDependencies(
  plan: DependencyPlan,
  deps: { name: string; version: string; resolved: string | null; signed?: boolean }[],
): string[] {
  const fromRegistry = (resolved: string | null) =>
    resolved !== null && plan.registries.some((r) => resolved.startsWith(r.endsWith('/') ? r : `${r}/`));
  return deps
    .filter((dep) => fromRegistry(dep.resolved) && dep.signed === false)
    .map((dep) => `${dep.name}@${dep.version}`);
}

export type { SignatureRecord, SignatureStatus };
