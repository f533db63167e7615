// A real npm registry for tests: Verdaccio 6.8.0 in-process on loopback, plus the npm calls that seed it.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa, type Result } from 'execa';
import pacote from 'pacote';
import { runServer } from 'verdaccio';

export interface Registry {
  /** Base URL with a trailing slash, e.g. `http://127.0.0.1:41234/`. */
  url: string;
  /** Stops the server and drops open keep-alive connections. */
  close(): Promise<void>;
}

export interface StartRegistryOptions {
  /** Where Verdaccio keeps its storage and htpasswd; the caller owns and removes it. */
  storageDir: string;
  /**
   * Proxy every name but `local` to `upstream` (a real package published here under its own name, its dependencies
   * from the real registry); `local` names are served from here only, their dist-tags this registry's.
   * @default none: no uplinks, a name not published here is a 404
   */
  proxy?: { local: string[]; upstream?: string };
  /**
   * Accounts (name → password) the registry knows; with any, only they may read or publish (a private registry:
   * npm must send their credentials, basic or a token from `login`). @default none: anyone may
   */
  users?: Record<string, string>;
}

/** Where a proxying registry sends the names it does not hold. */
const UPSTREAM = 'https://registry.npmjs.org/';

/** Starts Verdaccio on 127.0.0.1 with a random port. Anyone may read, publish, tag and unpublish. */
export async function startRegistry({ storageDir, proxy, users }: StartRegistryOptions): Promise<Registry> {
  const open = users
    ? { access: '$authenticated', publish: '$authenticated', unpublish: '$authenticated' }
    : { access: '$all', publish: '$anonymous $all', unpublish: '$all' };
  // htpasswd's {SHA} form: base64 of the password's SHA-1.
  const htpasswd = Object.entries(users ?? {})
    .map(([name, password]) => `${name}:{SHA}${createHash('sha1').update(password).digest('base64')}:autocreated\n`)
    .join('');
  if (users) await writeFile(join(storageDir, 'htpasswd'), htpasswd);
  const server: Server = await runServer({
    // Verdaccio resolves relative paths against configPath; the file itself need not exist.
    configPath: join(storageDir, 'config.yaml'),
    storage: join(storageDir, 'storage'),
    auth: { htpasswd: { file: join(storageDir, 'htpasswd'), max_users: -1 } },
    // No uplinks unless asked: a name we did not publish must 404, never reach registry.npmjs.org.
    // Proxying: patient (a packument of thousands of versions), and not given up on after Verdaccio's 2 failures.
    uplinks: proxy ? { upstream: { url: proxy.upstream ?? UPSTREAM, timeout: '120s', max_fails: 20 } } : {},
    // npm sends its fake token; Verdaccio swallows the failed auth and carries on as $anonymous, allowed here.
    packages: proxy
      ? { ...Object.fromEntries(proxy.local.map((name) => [name, open])), '**': { ...open, proxy: 'upstream' } }
      : { '**': open },
    // A real package's tarball (openclaw's is 95 MB) goes up base64 in one JSON document.
    ...(proxy && { max_body_size: '500mb' }),
    // The code reads `web.enable`, although the sample config.yaml spells it `enabled`.
    web: { enable: false },
    // Left out of `middlewares`, the audit plugin is never loaded (the default config enables it).
    middlewares: {},
    // type 'file' with fd 2 is the only way to reach stderr; 'json' avoids pino's worker-thread prettifier.
    // The logger is a process-wide singleton: the first registry started in a process decides this.
    log: { type: 'file', path: 2, format: 'json', level: 'warn' },
    // Cast: ConfigYaml requires fields we leave to defaults, and types log.path as a string.
  } as never);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // npm keeps sockets alive; without this close() waits for their timeout.
        server.closeAllConnections();
      }),
  };
}

export interface NpmOptions {
  /** Registry URL as returned by `startRegistry`; without one npm runs `--offline` (enough for `npm pack <dir>`). */
  registry?: string;
  /** @default a throwaway directory, so a stray `npm install` can never touch the project itself */
  cwd?: string;
  /** @default 60_000 */
  timeout?: number;
  /** npm's cache, e.g. one kept warm across a file's calls (the caller removes it). @default a throwaway one */
  cache?: string;
}

/**
 * Runs the npm CLI against `registry` only: a throwaway cache, logs dir and userconfig (holding a fake token so
 * npm agrees to publish), and none of the `npm_config_*` variables inherited from an outer `npm test`.
 * Rejects with execa's error (it carries stdout, stderr and exitCode) when npm fails.
 */
export async function npm(args: string[], options: NpmOptions): Promise<Result> {
  const home = await mkdtemp(join(tmpdir(), 'rs-npm-'));
  try {
    const userconfig = join(home, 'npmrc');
    const registry = options.registry;
    await writeFile(userconfig, registry ? `//${new URL(registry).host}/:_authToken=fake\n` : '');
    return await execa('npm', args, {
      cwd: options.cwd ?? home,
      timeout: options.timeout ?? 60_000,
      extendEnv: false,
      env: {
        ...withoutNpmConfig(process.env),
        ...(registry ? { npm_config_registry: registry } : { npm_config_offline: 'true' }),
        npm_config_userconfig: userconfig,
        npm_config_globalconfig: join(home, 'global-npmrc'),
        npm_config_cache: options.cache ?? join(home, 'cache'),
        npm_config_logs_dir: join(home, 'logs'),
        npm_config_update_notifier: 'false',
        npm_config_audit: 'false',
        npm_config_fund: 'false',
      },
    });
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

function withoutNpmConfig(env: NodeJS.ProcessEnv): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && !/^npm_config_/i.test(key)) kept[key] = value;
  }
  return kept;
}

/** A token for `name` (npm's `login`: the registry's own, for `//host/:_authToken`). */
export async function login(registry: string, name: string, password: string): Promise<string> {
  const res = await fetch(new URL(`-/user/org.couchdb.user:${encodeURIComponent(name)}`, registry), {
    method: 'PUT',
    // Verdaccio gives a known user a token when the request authenticates as that user (npm's login does so too).
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`,
    },
    body: JSON.stringify({ _id: `org.couchdb.user:${name}`, name, password, type: 'user', roles: [] }),
  });
  const body = (await res.json()) as { token?: string };
  if (!res.ok || !body.token)
    throw new Error(`login ${name} on ${registry}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body.token;
}

export interface PublishOptions {
  registry: string;
  /** The token sent (a registry with `users` wants a real one, from `login`). @default 'fake' */
  token?: string;
  /** Dist-tag to publish under; npm requires one for prereleases. @default 'latest' */
  tag?: string;
}

/**
 * Publishes a tarball (or a package directory) to `registry`, in-process with the same PUT that npm's publish
 * (libnpmpublish) sends: the manifest as pacote reads it from the tarball, `dist` with sha1 shasum and sha512
 * integrity, the tarball as a base64 attachment. Same document for the registry, without an npm process (~0.5 s of
 * CPU, ~2 s under load) each. A directory is packed first as `npm pack` packs it (libnpmpack: pacote's packing with
 * Arborist, which takes bundled dependencies along); one whose publish would run scripts of its own, is private or
 * carries a publishConfig goes through `npm publish` itself.
 */
export async function publish(tarballOrDir: string, options: PublishOptions): Promise<void> {
  if (tarballOrDir.endsWith('.tgz')) return publishTarball(tarballOrDir, options);
  const packed = await packDirectory(tarballOrDir);
  if (!packed) {
    await npm(['publish', tarballOrDir, ...(options.tag ? ['--tag', options.tag] : [])], {
      registry: options.registry,
    });
    return;
  }
  try {
    await publishTarball(packed, options);
  } finally {
    await rm(dirname(packed), { recursive: true, force: true });
  }
}

/** The lifecycle scripts `npm publish` of a directory runs (npm pack's prepack and postpack among them). */
const PUBLISH_SCRIPTS = ['prepublish', 'prepublishOnly', 'prepack', 'prepare', 'postpack', 'publish', 'postpublish'];

/** `dir` packed as npm pack packs it, into a temp folder of its own; undefined where only npm's publish will do. */
async function packDirectory(dir: string): Promise<string | undefined> {
  const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
    private?: unknown;
    publishConfig?: unknown;
    scripts?: Record<string, unknown>;
  };
  if (pkg.private || pkg.publishConfig || PUBLISH_SCRIPTS.some((event) => pkg.scripts?.[event] !== undefined))
    return undefined;
  const out = await mkdtemp(join(tmpdir(), 'rs-publish-pack-'));
  const { default: Arborist } = await import('@npmcli/arborist');
  const data = await pacote.tarball(`file:${dir}`, {
    Arborist,
    allowDirectory: 'all',
    _isRoot: true,
    cache: join(out, 'cache'),
  } as Parameters<typeof pacote.tarball>[1]);
  const tgz = join(out, 'package.tgz');
  await writeFile(tgz, data);
  return tgz;
}

async function publishTarball(tarball: string, { registry, tag, token }: PublishOptions): Promise<void> {
  const data = await readFile(tarball);
  const cache = await mkdtemp(join(tmpdir(), 'rs-publish-cache-'));
  const manifest = (await pacote
    .manifest(`file:${tarball}`, { fullMetadata: true, fullReadJson: true, cache })
    .finally(() => rm(cache, { recursive: true, force: true }))) as unknown as Record<string, unknown> & {
    name: string;
    version: string;
  };
  const tarballName = `${manifest.name.replace(/^@[^/]+\//, '')}-${manifest.version}.tgz`;
  const version = {
    ...manifest,
    _id: `${manifest.name}@${manifest.version}`,
    dist: {
      shasum: createHash('sha1').update(data).digest('hex'),
      integrity: `sha512-${createHash('sha512').update(data).digest('base64')}`,
      tarball: new URL(`${manifest.name}/-/${tarballName}`, registry).href,
    },
  };
  const body = {
    _id: manifest.name,
    name: manifest.name,
    description: manifest.description,
    'dist-tags': { [tag ?? 'latest']: manifest.version },
    versions: { [manifest.version]: version },
    _attachments: {
      [tarballName]: { content_type: 'application/octet-stream', data: data.toString('base64'), length: data.length },
    },
  };
  const res = await fetch(new URL(encodeURIComponent(manifest.name).replace(/^%40/, '@'), registry), {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token ?? 'fake'}` },
    body: JSON.stringify(body),
  });
  if (!res.ok)
    throw new Error(
      `publish ${manifest.name}@${manifest.version} to ${registry}: HTTP ${res.status} ${await res.text()}`,
    );
}

/** Points `tag` at `spec` (`name@version`). */
export async function addDistTag(spec: string, tag: string, { registry }: { registry: string }): Promise<void> {
  await npm(['dist-tag', 'add', spec, tag], { registry });
}

/** Marks the versions matched by `spec` (`name@range`) deprecated; an empty message un-deprecates. */
export async function deprecate(spec: string, message: string, { registry }: { registry: string }): Promise<void> {
  await npm(['deprecate', spec, message], { registry });
}
