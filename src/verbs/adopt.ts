/**
 * Adopting an existing `npm install -g` install (e.g. `$(npm root -g)/openclaw`) as the first
 * release, without touching it or the service that runs from it: the install is copied into
 * staging, hashed, sealed and renamed into releases/<version>; `current` points at it when nothing
 * was activated yet. The service moves over when its unit goes through current (`unit --install`).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import { newId } from '../store/journal.js';
import { pointLink, readLinkVersion } from '../store/links.js';
import { mutate } from '../transaction/mutate.js';
import { beginOperation } from '../transaction/record.js';
import type { RootOptions } from '../store/session.js';
import { sealStaged } from '../stage/seal-staged.js';
import { validVersion } from '../store/layout.js';
import { probeNode } from '../platform/node.js';
import { run, tail } from '../platform/subprocess.js';
import { abandonStaging, commitRelease, reuseCandidates } from '../stage/install.js';
import { writeConfig } from '../store/config.js';
import { type ServiceFound, type StableCommand, readService, writeStableCommands } from '../unit-files/adopted.js';
import { readPackageJson } from '../platform/package-json.js';
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
    const pkgDir = path.join(layout.stagingDir(stagingId), 'package');
    const node = await probeNode(config.node ?? process.execPath, runtime.env, runtime.signal);
    try {
      await fs.mkdir(layout.stagingDir(stagingId), { recursive: true });
      runtime.onProgress({ phase: 'extract', message: `copying ${source}` });
      const copy = await run('cp', ['-a', source, pkgDir], {
        env: runtime.env,
        signal: runtime.signal,
        timeoutMs: 30 * 60_000,
      });
      if (copy.exitCode !== 0)
        throw new ReleaseSwitcherError('BAD_PACKAGE_JSON', `Cannot copy ${source}: ${tail(copy.output, 3)}`, {
          hint: 'Check the path and its permissions.',
        });
      const earlier = await reuseCandidates(session);
      const sealed = await sealStaged({
        layout,
        pkgDir,
        earlier,
        progress: runtime.onProgress,
        identity: {
          name: pkg.name,
          version: pkg.version,
          integrity: pkg.integrity,
          source: `adopted:${source}`,
          node: { path: node.path, version: node.version },
        },
      });
      // It has been running in production: good, not a pending trial.
      await commitRelease(session, { dir: pkgDir, marker: sealed.marker, inodes: sealed.inodes, earlier }, 'good');
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
      await writeConfig(layout.root, { ...config, healthUrl: found.healthUrl });
    }
    const commands = await writeStableCommands({
      root: layout.root,
      source,
      node: config.node ?? node.path,
      bins: pkg.bins,
      preset: config.preset ?? config.package,
    });
    const links = commands.map((c) => ({ name: c.name, link: c.npmLink, ours: c.path }));
    await recordNpmLinks(layout.root, links);
    if (options.linkBin) await linkNpmBins(layout.root);
    return {
      version: pkg.version,
      path: layout.release(pkg.version),
      current,
      found,
      commands,
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
  const bin =
    typeof json.bin === 'string'
      ? { [json.name.replace(/^@[^/]+\//, '')]: json.bin }
      : json.bin && typeof json.bin === 'object'
        ? (json.bin as Record<string, unknown>)
        : {};
  const bins = Object.fromEntries(
    Object.entries(bin).filter((e): e is [string, string] => typeof e[1] === 'string' && /^[\w.-]+$/.test(e[0])),
  );
  return {
    name: json.name,
    version: json.version,
    integrity: typeof json._integrity === 'string' ? json._integrity : null,
    bins,
  };
}
