/**
 * Registry credentials kept out of what is written down. A registry URL with a user and password
 * (`https://ada:pw@host/`) handed to pacote, arborist or npm as it is ends up in every record they keep of a request:
 * npm's cache index (`metadata.url` of each packument, files 0644 in a folder that is often readable by all), our
 * kept trees (their packuments' URLs), error messages. So npm's options never carry one: the URL goes without them,
 * and they go as that registry's `//host/path/:_auth`, the setting npm itself reads for basic auth, which npm sends
 * as the same `Authorization` header and never stores.
 */
import { ReleaseSwitcherError } from '../model/errors.js';

/** `value` without the user and password of its URL; anything that is not a URL, or has none, as it is. */
export function stripUrlCredentials(value: string): string {
  if (!URL.canParse(value)) return value;
  const url = new URL(value);
  if (!url.username && !url.password) return value;
  url.username = '';
  url.password = '';
  return url.href;
}

/** Whether `value` is a URL that names a user or password. */
export function hasUrlCredentials(value: string): boolean {
  return stripUrlCredentials(value) !== value;
}

/** npm's key for a registry's own settings (its "nerf dart"): `//host[:port]/path/`, no protocol, no credentials. */
export function nerfDart(registry: string): string {
  const url = new URL(registry);
  return `//${url.host}${url.pathname.replace(/[^/]*$/, '')}`;
}

/** npm's settings naming a registry: `registry` and each scope's `@scope:registry`. */
const REGISTRY_SETTING = /^(registry|@[^:/]+:registry)$/;
/** The settings by which npm already has auth for a registry (npm-registry-fetch's `hasAuth`). */
const AUTH_SETTINGS = [':_authToken', ':_auth', ':username', ':certfile'];

/**
 * npm `options` whose registry URLs carry no user and password: each becomes that registry's `:_auth`, unless auth is
 * already set for it (npm would use that first, as it did before). Nothing else changes.
 */
export function credentialsAsAuth<T extends Record<string, unknown>>(options: T): T {
  const out: Record<string, unknown> = { ...options };
  for (const [key, value] of Object.entries(options)) {
    if (!REGISTRY_SETTING.test(key) || typeof value !== 'string' || !hasUrlCredentials(value)) continue;
    const url = new URL(value);
    const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    out[key] = stripUrlCredentials(value);
    const dart = nerfDart(out[key] as string);
    if (!AUTH_SETTINGS.some((setting) => out[`${dart}${setting}`] !== undefined))
      out[`${dart}:_auth`] = Buffer.from(pair).toString('base64');
  }
  return out as T;
}

/**
 * Whether an npm setting's name says it holds a secret: a token, a password, basic auth, a client key or an OTP (any
 * case: npm_config_* variables arrive in lower case). Never hashed into a key others can read, never written down.
 */
export function isSecretSetting(name: string): boolean {
  return /(^|:)(_auth|_authtoken|_password|username|email|certfile|keyfile|cert|key|otp)$|token|password|secret/i.test(
    name,
  );
}

/**
 * A package spec that is a URL with a user or password in it (`https://ada:pw@host/app.tgz`) is refused before anything
 * records it: the spec is what a command's lock record, its transaction, the release's source, npm's cache index and a
 * runner's command line carry. npm takes the same credentials as that host's setting, which it never writes down.
 */
export function refuseSpecCredentials(spec: string): void {
  const trimmed = spec.trim();
  if (!hasUrlCredentials(trimmed)) return;
  const shown = stripUrlCredentials(trimmed);
  const dart = nerfDart(shown);
  throw new ReleaseSwitcherError(
    'INVALID_SPEC',
    `Cannot use "${shown}" with a user or password in its URL: it would be written into npm's cache, the release's record and the transaction's.`,
    {
      hint: `Give npm the credentials for ${dart} instead (npm config set "${dart}:_auth" "$(printf %s USER:PASSWORD | base64)", or "${dart}:_authToken"), then use the URL without them.`,
    },
  );
}
