/**
 * Adopting an existing `npm install -g` install (e.g. `$(npm root -g)/openclaw`) as the first
 * release, without touching it or the service that runs from it: the install is copied into
 * staging, hashed, sealed and renamed into releases/<version>; `current` points at it when nothing
 * was activated yet. The service moves over when its unit goes through current (`unit --install`).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError, isReleaseSwitcherError } from '../model/errors.js';
import { newId } from '../store/journal.js';
import { pointLink, readLinkVersion } from '../store/links.js';
import { type MutationSession, mutate } from '../transaction/mutate.js';
import { serviceIdentity } from '../transaction/service-identity.js';
import { onStateSide, resolveStateAs } from '../snapshot/state-side.js';
import { beginOperation } from '../transaction/record.js';
import type { RootOptions } from '../store/session.js';
import { sealStaged } from '../stage/seal-staged.js';
import { validVersion } from '../store/layout.js';
import { type NodeRuntime, probeNode } from '../platform/node.js';
import { run, tail } from '../platform/subprocess.js';
import { abandonStaging, commitRelease, reuseCandidates } from '../stage/install.js';
import { stageRelease } from '../stage/index.js';
import { smokeCheck } from '../stage/smoke.js';
import { dependencyReach, describeUnreached } from '../stage/dependency-reach.js';
import { differences, folderHashes, manifestHashes, tarballHashes } from '../stage/prove-same.js';
import { downloadTarball, resolvePackage } from '../registry/fetch.js';
import { removeTree } from '../platform/fs.js';
import { type Settings, writeConfig } from '../store/config.js';
import {
  type ServiceFound,
  type StableCommand,
  readService,
  serviceNodeOf,
  writeStableCommands,
} from '../unit-files/adopted.js';
import { commandsOf, readPackageJson } from '../platform/package-json.js';
import { type NpmLink, linkNpmBins, recordNpmLinks, unlinkNpmBins } from '../unit-files/bin-links.js';

export interface AdoptOptions extends RootOptions {
  /** The installed package folder, e.g. /usr/lib/node_modules/openclaw. */
  path: string;
  /** Put the port the configured unit runs on into the health URL (the URL was not given explicitly). @default false */
  healthFromUnit?: boolean;
  /** Repoint npm -g's links of the package's commands at `<root>/bin/<name>` (undo: `unlinkBin`). @default false */
  linkBin?: boolean;
}

export interface AdoptResult {
  version: string;
  path: string;
  /** Where `current` points now. */
  current: string | null;
  /** What to run so the service starts through `current`. */
  next: string;
  /** What the configured unit runs, read from it (undefined: no such unit, or not systemd). */
  found?: ServiceFound;
  /** Commands of the package that always run `current` (`<root>/bin/<name>`), and the npm -g ones that do not. */
  commands: StableCommand[];
  /**
   * Present when the install could not be copied (its dependencies live outside its folder: pnpm, bun, yarn): the
   * release was staged from the registry instead and proven to be the same package, file by file.
   */
  restaged?: Restaged;
  /**
   * Folders of the service's state that hold the install itself (OpenClaw's install-cli.sh puts its Node, the package
   * and the wrapper's folder in ~/.openclaw): added to `independentPaths`, so checkpoints and rehearsal copies leave
   * them out and a restore leaves them alone.
   */
  keptOut?: string[];
}

export interface Restaged {
  /** Why the install itself was not copied. */
  why: string;
  /** Where the release came from (the registry's tarball). */
  from: string;
  integrity: string | null;
  /** Files of the package compared with the install (outside its node_modules): all equal. */
  proven: number;
}

/**
 * Take an existing `npm install -g` install as a sealed release of the root (a copy; the install and the service
 * running from it are left as they are); `current` points at it when nothing was activated yet. `result.next` says
 * what moves the service over (`unit --install`).
 */
export async function adopt(options: AdoptOptions): Promise<AdoptResult> {
  const source = path.resolve(options.path);
  return mutate(options, `adopt ${source}`, async (session) => {
    const { layout, config, runtime, journal } = session;
    const pkg = await readInstalledPackage(source);
    // pnpm's `$(pnpm root -g)/<name>` is a symlink into its virtual store: the folder it leads to is the install.
    const real = await fs.realpath(source);
    validVersion(pkg.version, `${source}/package.json`); // it becomes releases/<version>
    if (pkg.name !== config.package) {
      throw new ReleaseSwitcherError(
        'WRONG_PACKAGE',
        `${source} holds ${pkg.name}, but this root manages ${config.package}.`,
        { hint: `Adopt it into a root for ${pkg.name}.` },
      );
    }
    if (journal.state.releases[pkg.version]) {
      throw new ReleaseSwitcherError(
        'VERSION_CONFLICT',
        `Release ${pkg.version} is already installed; there is nothing to adopt.`,
        { hint: 'See release-switcher list.' },
      );
    }
    const stagingId = newId();
    beginOperation(journal, {
      kind: 'install',
      id: stagingId,
      startedAt: new Date().toISOString(),
      versions: [pkg.version],
    });
    await journal.commit('install:begin');
    const node = await probeNode(config.node ?? process.execPath, runtime.env, runtime.signal);
    let restaged: Restaged | undefined;
    try {
      restaged = await makeRelease(session, { source, real, pkg, stagingId, node });
    } catch (error) {
      throw await abandonStaging(session, layout.stagingDir(stagingId), error);
    } finally {
      await fs.rm(layout.stagingDir(stagingId), { recursive: true, force: true }).catch(() => undefined);
    }
    let current = await readLinkVersion(layout, 'current');
    if (current === null) {
      await pointLink(layout, 'current', pkg.version);
      current = pkg.version;
    }
    const found = await readService(config, runtime.env);
    if (found?.port && options.healthFromUnit && config.healthUrl) {
      const url = new URL(config.healthUrl);
      url.port = String(found.port.port);
      found.healthUrl = url.toString();
    }
    const commands = await writeStableCommands({
      root: layout.root,
      source,
      real,
      pkg: pkg.name,
      node: config.node ?? node.path,
      bins: pkg.bins,
      preset: config.preset ?? config.package,
    });
    const keptOut = await installInState(session, [
      real,
      config.node ?? node.path,
      ...commands.flatMap((c) => c.runsAdopted.filter((r) => r.kind === 'script').map((r) => r.path)),
    ]);
    // What adopt learnt about the service, written once: its real port, the install kept out of its state.
    if (found?.healthUrl || keptOut.length > 0)
      await writeConfig(layout.root, {
        ...config,
        ...(found?.healthUrl ? { healthUrl: found.healthUrl } : {}),
        independentPaths: [...config.independentPaths, ...keptOut],
      });
    // npm -g's link (recorded even when absent, as before), and every other command found that runs the adopted copy.
    const links = commands.flatMap((c) => [
      { name: c.name, link: c.npmLink, ours: c.path },
      ...c.runsAdopted
        .filter((r) => r.path !== c.npmLink)
        .map((r) => ({
          name: c.name,
          link: r.path,
          ours: c.path,
          ...(r.kind === 'script' ? { kind: 'script' as const } : {}),
        })),
    ]);
    await recordNpmLinks(layout.root, links);
    if (options.linkBin) await linkNpmBins(layout.root);
    return {
      version: pkg.version,
      path: layout.release(pkg.version),
      current,
      found,
      commands,
      ...(restaged ? { restaged } : {}),
      ...(keptOut.length > 0 ? { keptOut } : {}),
      next: `release-switcher --root ${layout.root} unit --install  (then restart the service once, through ${layout.current})`,
    };
  });
}

/**
 * `init --link-bin`: npm -g's links of the adopted package's commands run `<root>/bin/<name>` (the current release)
 * from now on; `init --unlink-bin` (`link: false`) points them back where they pointed. Under the root's lock.
 */
export async function linkBin(options: RootOptions & { link: boolean }): Promise<NpmLink[]> {
  return mutate(options, options.link ? 'link-bin' : 'unlink-bin', async (session) =>
    options.link ? linkNpmBins(session.layout.root) : unlinkNpmBins(session.layout.root),
  );
}

/**
 * For `init --adopt` with a preset that needs a particular Node: the Node the service's unit runs the install with
 * (install-cli.sh's private one, say) is tried first, so the root stages, rehearses and runs on what the service ran.
 */
export function serviceNodeFor(
  installed: { name: string; bins: Record<string, string> },
  env: NodeJS.ProcessEnv,
): (settings: Settings) => Promise<string | undefined> {
  return (settings) =>
    serviceNodeOf(
      {
        supervisor: settings.supervisor ?? 'systemd',
        unit: settings.unit ?? null,
        package: settings.package ?? installed.name,
      },
      env,
      installed.bins,
    );
}

/** name, version and (when npm kept it) integrity of an installed package folder. */
export async function readInstalledPackage(
  dir: string,
): Promise<{ name: string; version: string; integrity: string | null; bins: Record<string, string> }> {
  const json = await readPackageJson(dir, 'Name the package folder, e.g. $(npm root -g)/openclaw');
  if (typeof json.name !== 'string' || typeof json.version !== 'string') {
    throw new ReleaseSwitcherError('BAD_PACKAGE_JSON', `${dir}/package.json has no name or version.`, {
      hint: 'Name the package folder, e.g. $(npm root -g)/openclaw',
    });
  }
  return {
    name: json.name,
    version: json.version,
    integrity: typeof json._integrity === 'string' ? json._integrity : null,
    bins: commandsOf(json),
  };
}

interface MakeRelease {
  source: string;
  /** The install's real folder (`source` with its links resolved). */
  real: string;
  pkg: Awaited<ReturnType<typeof readInstalledPackage>>;
  stagingId: string;
  /** The Node the root runs its service with (lifecycle scripts and the syntax check run on it). */
  node: NodeRuntime;
}

/**
 * The adopted release, sealed and journaled as good (it has been running in production): a copy of the install when
 * the copy holds everything it loads; otherwise the same version staged from the registry with npm's tree and proven
 * to be the same package before anything else happens. Undefined: copied; else what was restaged and proven.
 */
async function makeRelease(session: MutationSession, wanted: MakeRelease): Promise<Restaged | undefined> {
  const { layout, config, runtime } = session;
  const { source, real, pkg, stagingId, node } = wanted;
  const pkgDir = path.join(layout.stagingDir(stagingId), 'package');
  await fs.mkdir(layout.stagingDir(stagingId), { recursive: true });
  const earlier = await reuseCandidates(session);
  // The install is read where it is first: a folder whose dependencies live elsewhere is never copied. The copy is
  // read again (a link inside that led out of the folder does not lead to the same place from staging).
  let reach = await dependencyReach(real);
  if (reach.unreached.length === 0) {
    runtime.onProgress({ phase: 'extract', message: `copying ${real}` });
    const copy = await run('cp', ['-a', real, pkgDir], {
      env: runtime.env,
      signal: runtime.signal,
      timeoutMs: 30 * 60_000,
    });
    if (copy.exitCode !== 0)
      throw new ReleaseSwitcherError('BAD_PACKAGE_JSON', `Cannot copy ${source}: ${tail(copy.output, 3)}`, {
        hint: 'Check the path and its permissions.',
      });
    reach = await dependencyReach(pkgDir);
  }
  if (reach.unreached.length === 0) {
    // Loadable: the entry points' syntax too, overlapping the manifest's hashing.
    const packageJson = await readPackageJson(pkgDir, 'Name the package folder, e.g. $(npm root -g)/openclaw');
    const checked = smokeCheck(pkgDir, packageJson, { node, env: runtime.env, command: null, signal: runtime.signal });
    const sealed = await sealStaged({
      layout,
      pkgDir,
      earlier,
      progress: runtime.onProgress,
      checked: checked.then((message) =>
        runtime.onProgress({
          phase: 'smoke',
          message: `${message}; ${reach.packages} packages reachable inside the release`,
        }),
      ),
      identity: {
        name: pkg.name,
        version: pkg.version,
        integrity: pkg.integrity,
        source: `adopted:${source}`,
        node: { path: node.path, version: node.version },
      },
    });
    await commitRelease(session, { dir: pkgDir, marker: sealed.marker, inodes: sealed.inodes, earlier }, 'good');
    return undefined;
  }
  // Its dependencies live beside it (a virtual store, a hoisted global folder): never copied, never marked good as it is.
  const why = `${source} does not hold its dependencies (${reach.unreached.length} of them; ${describeUnreached(reach.unreached, 1)})`;
  runtime.onProgress({ phase: 'resolve', message: `${why}; staging ${pkg.name}@${pkg.version} from the registry` });
  await removeTree(pkgDir); // a copy whose links led out
  const spec = `${pkg.name}@${pkg.version}`;
  const resolved = await resolvePackage(spec, { config, runtime, where: runtime.cwd, forStaging: true }).catch(
    (error: unknown) => {
      throw unproven(
        source,
        spec,
        `the registry cannot give it: ${isReleaseSwitcherError(error) ? error.message : String(error)}`,
      );
    },
  );
  const staged = await stageRelease({
    layout,
    config,
    runtime,
    journal: session.journal,
    pkg: resolved,
    stagingId,
    earlier,
  });
  runtime.onProgress({ phase: 'verify', message: `comparing ${real} with ${spec} as published` });
  const tarball = path.join(layout.stagingDir(stagingId), 'published.tgz');
  await downloadTarball(resolved, tarball, { config, runtime, where: runtime.cwd });
  const [published, installed] = await Promise.all([tarballHashes(tarball, runtime.signal), folderHashes(real)]);
  const differ = differences(installed, published, manifestHashes(staged.marker.files));
  if (differ.length > 0)
    throw unproven(
      source,
      spec,
      `${differ.length} of its files differ from the registry's (${differ.slice(0, 3).join(', ')}${differ.length > 3 ? ', …' : ''})`,
    );
  await commitRelease(session, { ...staged, earlier }, 'good');
  return { why, from: resolved.resolved, integrity: resolved.integrity, proven: installed.size };
}

function unproven(source: string, spec: string, why: string): ReleaseSwitcherError {
  return new ReleaseSwitcherError(
    'ADOPT_UNPROVEN',
    `${source} keeps its dependencies outside its folder, so it cannot be copied, and it cannot be proven to be ${spec} as the registry has it: ${why}.`,
    {
      hint: `Nothing was changed. Install the release from the registry instead (release-switcher install ${spec}), or adopt an npm install -g of it.`,
    },
  );
}

/**
 * The install's own files are not state: each of `parts` (the package, the service's Node, a wrapper) that lies inside a
 * state directory is kept out of it by the top folder it is in (`~/.openclaw/tools`, `~/.openclaw/bin`). Returns those
 * folders that are not independent paths of the root yet.
 */
async function installInState(session: MutationSession, parts: readonly string[]): Promise<string[]> {
  const { config } = session;
  const { env, runAs } = await serviceIdentity(session);
  // The service's state folders, resolved with its account's rights (root acting for it follows none of its links).
  const { paths } = await resolveStateAs(runAs, { statePaths: config.statePaths, independentPaths: [], env });
  const stateDirs = await onStateSide(runAs, 'realDirs', [], { paths });
  const out = new Set<string>();
  for (const part of parts) {
    const real = await fs.realpath(part).catch(() => undefined);
    for (const candidate of new Set([part, real])) {
      if (!candidate) continue;
      for (const dir of stateDirs) {
        const rel = path.relative(dir, candidate);
        if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) continue;
        out.add(path.join(dir, rel.split(path.sep)[0]!));
      }
    }
  }
  return [...out].filter((p) => !config.independentPaths.includes(p)).sort();
}
