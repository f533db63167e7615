/** `config.json`: the settings of one root, written by `init` and read by every command. */
import fs from 'node:fs/promises';
import { ReleaseSwitcherError } from '../model/errors.js';
import { readJsonIfExists, writeFileAtomic } from '../platform/fs.js';
import { asPermissionDenied } from '../platform/permission.js';
import { validateConfigShape } from './config-shape.js';
import { LAYOUT_VERSION, layoutOf } from './layout.js';
import { type RootPurpose, assertRootTrusted, fileTrustError } from './root-trust.js';
import { type SchemaProblem, schemaProblems } from './schema-problems.js';

export const SUPERVISORS = ['systemd', 'systemd-system', 'launchd', 'pm2', 'none'] as const;
export type SupervisorName = (typeof SUPERVISORS)[number];
/**
 * stable: the `latest` dist-tag; beta: the newer of `beta` and `latest`; extended-stable: the `extended-stable` dist-tag
 * exactly, no fallback, never taken by the auto-updater (OpenClaw's channels, docs/install/development-channels.md).
 */
export const CHANNELS = ['stable', 'beta', 'extended-stable'] as const;
export type Channel = (typeof CHANNELS)[number];
export const SIGNATURE_POLICIES = ['auto', 'always', 'never'] as const;
/** warn: a channel ready before an activation and not after it is a warning; require: it fails the verification. */
export const READINESS_POLICIES = ['warn', 'require'] as const;
export type ReadinessPolicy = (typeof READINESS_POLICIES)[number];
/** auto: verify where the registry publishes keys; always: refuse what cannot be verified; never: do not check. */
export type SignaturePolicy = (typeof SIGNATURE_POLICIES)[number];

export interface Config {
  layoutVersion: number;
  /** The npm package this root manages. @default (init) the root's configured one; required for a new root */
  package: string;
  /** Registry URL; `null` means whatever npm's own config (`.npmrc`) says. @default null */
  registry: string | null;
  /** @default "none" */
  supervisor: SupervisorName;
  /** systemd unit, launchd label or pm2 app. @default null */
  unit: string | null;
  /** @default null */
  healthUrl: string | null;
  /** Dot path into the health JSON. @default "version" */
  versionField: string;
  /** @default 60 */
  verifyTimeout: number;
  /** @default 10 */
  stableFor: number;
  /** Releases kept by `prune`. @default 3 */
  keep: number;
  /** The Node that runs the service and its lifecycle scripts. @default the Node running release-switcher */
  node: string | null;
  /** npm used to install dependencies (`npm-cli.js` or an `npm` executable). @default the `npm` beside `node`, else on PATH */
  npm: string | null;
  /** Arguments run with `node` inside a staged release as its smoke check, e.g. ["server.js","--version"]. @default null: syntax-check the entry points */
  smoke: string[] | null;
  /** @default [] */
  statePaths: string[];
  /** Folders under the state paths a checkpoint leaves alone: neither copied nor restored (`--independent-path`). @default [] */
  independentPaths: string[];
  /**
   * Process residue of the service no copy of its state carries, beyond the generic rules (sockets, FIFOs, `*.pid`,
   * `*.sock`, files naming a live process): patterns in gitignore's syntax (`**`, `!`, a trailing `/` for folders),
   * relative to each state path, e.g. `/tmp/`, `*.lock` (snapshot/residue.ts). @default []
   */
  residue: string[];
  /** @default null */
  schemaField: string | null;
  /**
   * What `update` without a version and the auto-updater follow. null: the service's own setting where its preset reads
   * one (openclaw: `update.channel` in openclaw.json), else stable. @default null
   */
  channel: Channel | null;
  /** @default null */
  preset: string | null;
  /** auto-update: a version must have been published this many hours before it is taken. @default 0 */
  cooldownHours: number;
  /** auto-update: the share of hosts (by a hash of hostId and the version) that take a new version. @default 100 */
  rolloutPercent: number;
  /** auto-update: this host's id for rollout and jitter. @default null: /etc/machine-id, else the hostname */
  hostId: string | null;
  /**
   * The account the service runs as, when it is not the root's owner (a system unit's `User=`, learned by init): its
   * group may pass through releases/ to its release. @default null: the root's owner
   */
  serviceUser: string | null;
  /** Preflight: the candidate is rehearsed as `<node> ARGS` before the flip; `{port}`, `{state}` filled in. @default null: no rehearsal */
  preflight: string[] | null;
  /** Preflight: NAME → value for the rehearsal (`{port}`, `{state}` filled in). @default {} */
  preflightEnv: Record<string, string>;
  /** Preflight: seconds the rehearsal must stay healthy with the same process. @default 5 */
  preflightFor: number;
  /** Registry signatures: auto (verify where the registry publishes keys), always, never. @default "auto" */
  verifySignatures: SignaturePolicy;
  /**
   * Preflight: a JSON document written for each rehearsal to its private file `{config}` (every string in it with
   * `{port}`, `{state}`, `{token}` and `{config}` filled in), e.g. an isolated config of the service. @default null: no file
   */
  preflightConfig: Record<string, unknown> | null;
  /**
   * Preflight: run as `<node> ARGS` in the candidate's folder with the rehearsal's environment once the private copy is
   * made, before the candidate starts (placeholders filled in), e.g. to clear the live owner's leases from the copy;
   * must exit 0. @default null
   */
  preflightPrepare: string[] | null;
  /**
   * A preset's finalize run before the stop, on a copy of the state seen at the live path, its result put in place by
   * rename in the window (transaction/finalize-ahead-step.ts); false: finalize runs in the window, on the live state.
   * @default true
   */
  finalizeAhead: boolean;
  /**
   * Where the service publishes readiness (openclaw: `/readyz`, per configured channel), what a channel or subsystem
   * ready before an activation and not after the stability window is: a warning (`warn`) or a failed verification
   * (`require`). @default "warn"
   */
  readiness: ReadinessPolicy;
}

export type Settings = Partial<Omit<Config, 'layoutVersion'>>;

export function defaultConfig(pkg: string): Config {
  return {
    layoutVersion: LAYOUT_VERSION,
    package: pkg,
    registry: null,
    supervisor: 'none',
    unit: null,
    healthUrl: null,
    versionField: 'version',
    verifyTimeout: 60,
    stableFor: 10,
    keep: 3,
    node: null,
    npm: null,
    smoke: null,
    statePaths: [],
    independentPaths: [],
    residue: [],
    schemaField: null,
    channel: null,
    preset: null,
    cooldownHours: 0,
    rolloutPercent: 100,
    hostId: null,
    serviceUser: null,
    preflight: null,
    preflightEnv: {},
    preflightFor: 5,
    verifySignatures: 'auto',
    preflightConfig: null,
    preflightPrepare: null,
    finalizeAhead: true,
    readiness: 'warn',
  };
}

const initFlagHint = (field: string) =>
  `Fix it with: release-switcher init --${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} …`;

/**
 * Check one merged config; throws INVALID_CONFIG naming the field. Its shape is judged by the published schema
 * (layout/config.schema.json: an unknown key is refused, with the nearest known one as the hint); what a schema cannot
 * say is checked here: a URL as the code parses it, a variable's name, a preflight's needs.
 */
export function validateConfig(value: unknown, source: string): Config {
  const bad = (field: string, why: string): never => {
    throw new ReleaseSwitcherError('INVALID_CONFIG', `${source}: "${field}" ${why}.`, { hint: initFlagHint(field) });
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('(root)', 'must be an object');
  const input = value as Record<string, unknown>;
  if (typeof input.package !== 'string' || input.package === '') bad('package', 'must be a package name');
  const config = { ...defaultConfig(input.package as string), ...input } as Config;
  // Before the schema: a config of another layout may have keys this release-switcher does not know.
  if (config.layoutVersion !== LAYOUT_VERSION)
    bad('layoutVersion', `is ${String(config.layoutVersion)}, this release-switcher reads ${LAYOUT_VERSION}`);
  assertConfigShape(config, source);
  if (config.registry !== null && !URL.canParse(config.registry)) bad('registry', 'must be a URL');
  if (config.healthUrl !== null && !URL.canParse(config.healthUrl)) bad('healthUrl', 'must be a URL');
  for (const name of Object.keys(config.preflightEnv)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      bad('preflightEnv', `${name}: must be NAME=VALUE with a valid variable name`);
  }
  if (config.preflight?.length === 0) bad('preflight', 'must be a non-empty list of arguments');
  if (config.preflightPrepare?.length === 0) bad('preflightPrepare', 'must be a non-empty list of arguments');
  if (config.preflight !== null && config.healthUrl === null)
    bad('preflight', 'needs --health-url: the rehearsal is probed there, on its own port');
  return config;
}

/** INVALID_CONFIG naming the first problem the schema finds (and the others after it), unless it finds none. */
function assertConfigShape(config: Config, source: string): void {
  if (validateConfigShape(config)) return;
  const [first, ...others] = schemaProblems(validateConfigShape.errors ?? []) as [SchemaProblem, ...SchemaProblem[]];
  const hint =
    first.unknownKey === undefined
      ? initFlagHint(first.field)
      : `${first.suggestion ? `Did you mean "${first.suggestion}"? ` : ''}Rename or remove "${first.unknownKey}" in ${source}` +
        ' (its keys: docs/configuration.md).';
  const also = others.length > 0 ? ` Also: ${others.map((problem) => problem.message).join('; ')}.` : '';
  throw new ReleaseSwitcherError('INVALID_CONFIG', `${source}: ${first.message}.${also}`, {
    hint,
    details: { problems: [first, ...others] },
  });
}

/**
 * A root's settings (config.json), validated, with registry credentials put back from their 0600 side file.
 * NOT_INITIALIZED when the root has none, INVALID_CONFIG when it is not valid. Read only from a root this account may
 * trust for `purpose` (store/root-trust.ts): else PERMISSION_DENIED, before anything of it is read.
 */
export async function readConfig(root: string, purpose: RootPurpose = 'read'): Promise<Config> {
  assertRootTrusted(root, purpose);
  const file = layoutOf(root).config;
  let raw: unknown;
  try {
    raw = await readJsonIfExists(file);
  } catch (error) {
    const denied = asPermissionDenied(error, 'reading the config', file);
    if (denied !== error) throw denied;
    throw new ReleaseSwitcherError('INVALID_CONFIG', `${file} is not valid JSON.`, {
      hint: 'Restore it from a backup or run release-switcher init --package NAME again.',
      cause: error,
    });
  }
  if (raw === undefined) {
    throw new ReleaseSwitcherError('NOT_INITIALIZED', `${root} is not a release-switcher root (no config.json).`, {
      hint: 'Run: release-switcher init --package NAME',
    });
  }
  const config = validateConfig(raw, file);
  if (purpose === 'mutate') refuseUntrustedPrograms(config);
  return config.registry ? { ...config, registry: await withStoredCredentials(root, config.registry) } : config;
}

/**
 * Root runs the configured Node and npm itself (staging's scripts, the smoke check, the database copier): one that
 * another account may change (its file, or a folder on its way: install-cli.sh's Node under the account's home) would
 * be that account's code run as root. Refused before anything runs, naming the path, its owner and the fix.
 */
function refuseUntrustedPrograms(config: Config): void {
  if (process.getuid?.() !== 0) return;
  for (const [setting, program] of [
    ['node', config.node],
    ['npm', config.npm],
  ] as const) {
    if (!program) continue;
    const error = fileTrustError(program);
    if (!error) continue;
    throw new ReleaseSwitcherError(
      'PERMISSION_DENIED',
      `Root does not run the configured ${setting}: ${error.message}`,
      {
        hint: `Run it as the account that may change it (sudo -u ACCOUNT release-switcher …), or name a ${setting} only root may change: release-switcher init --${setting} PATH`,
        ...(error.details ? { details: { ...error.details, setting } } : {}),
        cause: error,
      },
    );
  }
}

/** Read the config when the root has one. */
export async function readConfigIfExists(root: string, purpose: RootPurpose = 'read'): Promise<Config | undefined> {
  try {
    await fs.access(layoutOf(root).config);
  } catch {
    return undefined;
  }
  return readConfig(root, purpose);
}

/**
 * config.json is readable by anyone who can read the root; credentials in a registry URL
 * (`https://user:pass@host/`) never go there: the URL is written without them, and they go to
 * registry-auth.json (0600) beside it, put back into the URL in memory when the config is read.
 */
export async function writeConfig(root: string, config: Config): Promise<void> {
  const layout = layoutOf(root);
  const { url, credentials } = splitCredentials(config.registry);
  if (credentials) await writeFileAtomic(layout.registryAuth, `${JSON.stringify(credentials)}\n`, { mode: 0o600 });
  else await fs.rm(layout.registryAuth, { force: true });
  await writeFileAtomic(layout.config, `${JSON.stringify({ ...config, registry: url }, null, 2)}\n`);
}

interface RegistryCredentials {
  username: string;
  password: string;
}

/** A URL without its user and password, and those apart (null when it has none). */
export function splitCredentials(registry: string | null): {
  url: string | null;
  credentials: RegistryCredentials | null;
} {
  if (!registry || !URL.canParse(registry)) return { url: registry, credentials: null };
  const parsed = new URL(registry);
  if (!parsed.username && !parsed.password) return { url: registry, credentials: null };
  const credentials = { username: parsed.username, password: parsed.password };
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.href, credentials };
}

/** Any URL as it may be written down: without user and password. */
export function withoutCredentials<T extends string | null>(url: T): T {
  return (splitCredentials(url).url ?? url) as T;
}

async function withStoredCredentials(root: string, registry: string): Promise<string> {
  const stored = (await readJsonIfExists(layoutOf(root).registryAuth).catch(() => undefined)) as
    | Partial<RegistryCredentials>
    | undefined;
  if (!stored || typeof stored.username !== 'string' || typeof stored.password !== 'string') return registry;
  const parsed = new URL(registry);
  parsed.username = stored.username;
  parsed.password = stored.password;
  return parsed.href;
}
