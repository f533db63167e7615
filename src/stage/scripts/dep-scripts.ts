/**
 * Dependency lifecycle as `npm install -g` runs it: every preinstall by depth, then bin links, then
 * install and postinstall by depth. Scripts get npm's environment shape, never the caller's whole
 * environment (inside the gateway that would hand its secrets to every install script).
 */
import normalizeBins from 'npm-normalize-package-bin';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
// @ts-expect-error bin-links ships no types
import binLinks from 'bin-links';
import { ReleaseSwitcherError } from '../../model/errors.js';
import { tail } from '../../platform/subprocess.js';
import { runLifecycleEvent } from './lifecycle-event.js';
import type { TreeNode } from '../resolve/resolve-tree.js';
import { readPackageJson, readPackageJsonSync } from '../../platform/package-json.js';
import { eachSync } from '../../platform/tree.js';

// NODE_EXTRA_CA_CERTS with the proxies: behind a TLS proxy it is how Node, our registry client and npm alike, trusts
// the registry (registry/fetch.ts says so); without it the full install's npm failed every request with
// SELF_SIGNED_CERT_IN_CHAIN and fell back on stale cache entries after three tries each (70 s a package).
const PASSED =
  /^(HOME|TMPDIR|TMP|TEMP|LANG|LANGUAGE|LC_[A-Z]+|TZ|TERM|USER|LOGNAME|SHELL|https?_proxy|no_proxy|HTTPS?_PROXY|NO_PROXY|NODE_EXTRA_CA_CERTS)$/;

/** npm's environment for a script: PATH with the configured Node first, a few basics, npm_config_*. */
export function scriptEnv(
  callerEnv: NodeJS.ProcessEnv,
  options: { nodePath: string; npmConfig: Record<string, string>; npmCache: string },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(callerEnv)) if (value !== undefined && PASSED.test(key)) env[key] = value;
  env.PATH = [path.dirname(options.nodePath), callerEnv.PATH ?? '/usr/local/bin:/usr/bin:/bin'].join(path.delimiter);
  for (const [key, value] of Object.entries(options.npmConfig)) {
    if (!key.startsWith('//') && !/_auth|token|password/i.test(key))
      env[`npm_config_${key.replace(/-/g, '_')}`] = value;
  }
  env.npm_config_cache = options.npmCache;
  env.npm_config_global = 'true';
  env.npm_node_execpath = options.nodePath;
  env.NODE = options.nodePath;
  return env;
}

export interface DepScriptOptions {
  pkgDir: string;
  env: Record<string, string>;
  nodePath: string;
  ignoreScripts: boolean;
  signal?: AbortSignal | undefined;
  /** Locations whose files were linked from the store: their bins are symlinked only (no chmod of a shared inode). */
  linkedBins?: ReadonlySet<string> | undefined;
}

/** Whether npm would run `event` here: a script of that name, or node-gyp's implicit install. */
export function hasEvent(pkg: Record<string, unknown>, event: string, dir: string): boolean {
  if ((pkg.scripts as Record<string, string> | undefined)?.[event]) return true;
  return (
    event === 'install' &&
    pkg.gypfile !== false &&
    existsSync(path.join(dir, 'binding.gyp')) &&
    !(pkg.scripts as Record<string, string> | undefined)?.preinstall
  );
}

const depth = (node: TreeNode) => node.location.split('node_modules/').length;

/**
 * Bin links of packages linked from an earlier release (their .bin folders are not part of any
 * package). Only the symlinks: bin-links would also chmod each target, and the target is an inode
 * the earlier, sealed release shares; its earlier install already made it executable.
 */
export async function linkReusedBins(pkgDir: string, deps: TreeNode[]): Promise<void> {
  // Synchronously, in turns of the loop: the package.json files were just linked (the page cache holds
  // them), and a thread-pool hop each waited behind the new packages' extraction, which keeps the pool
  // busy meanwhile (measured: 1.65 s for openclaw's 314 reused packages, one after the other).
  await eachSync(deps, (node) => {
    const dir = path.join(pkgDir, node.location);
    const pkg = normalizeBins(readPackageJsonSync(dir)) as {
      bin?: Record<string, string>;
    };
    if (!pkg.bin) return;
    const binDir = path.join(
      pkgDir,
      node.location.slice(0, node.location.lastIndexOf('node_modules/') + 'node_modules'.length),
      '.bin',
    );
    mkdirSync(binDir, { recursive: true });
    for (const [name, target] of Object.entries(pkg.bin)) {
      const link = path.join(binDir, name);
      rmSync(link, { force: true });
      symlinkSync(path.relative(binDir, path.join(dir, target)), link);
    }
  });
}

/** Bin links of freshly extracted packages, as npm makes them (bin-links also makes targets executable). */
export async function linkBins(pkgDir: string, deps: TreeNode[]): Promise<void> {
  const inside = await fs.realpath(pkgDir);
  for (const node of deps) {
    const dir = path.join(pkgDir, node.location);
    const pkg = await readPackageJson(dir);
    if (!pkg.bin && !pkg.directories) continue;
    await binTargetsInside(inside, { dir, pkg, who: `${node.name}@${node.version}` });
    await binLinks({ path: dir, pkg, top: false, global: false, force: true });
  }
}

/**
 * bin-links chmods each bin target, and chmod follows a symlink: a preinstall that replaced its bin
 * with a link out of the release would have a file outside made executable (as root, any file). Every
 * existing target must resolve inside the release first, else RELEASE_UNSAFE.
 */
async function binTargetsInside(
  inside: string,
  owner: { dir: string; pkg: Record<string, unknown>; who: string },
): Promise<void> {
  const { dir, pkg, who } = owner;
  const bins = (normalizeBins({ ...pkg }) as { bin?: Record<string, string> }).bin ?? {};
  for (const [name, target] of Object.entries(bins)) {
    const abs = path.join(dir, target);
    const real = await fs.realpath(abs).catch(() => undefined); // missing: nothing to chmod, bin-links fails as under npm
    if (real === undefined || real === inside || real.startsWith(`${inside}${path.sep}`)) continue;
    throw new ReleaseSwitcherError(
      'RELEASE_UNSAFE',
      `The bin ${name} of ${who} (${target}) resolves outside the release (${real}).`,
      {
        hint: 'A release must be self-contained: a lifecycle script of this dependency pointed its bin outside it. Do not install it.',
      },
    );
  }
}

export async function runDepScripts(extracted: TreeNode[], options: DepScriptOptions): Promise<string[]> {
  const ordered = [...extracted].sort((a, b) => depth(a) - depth(b) || a.location.localeCompare(b.location));
  const ran: string[] = [];
  const phase = async (event: string) => {
    for (const node of ordered) {
      options.signal?.throwIfAborted();
      const dir = path.join(options.pkgDir, node.location);
      const pkg = await readPackageJson(dir);
      if (!hasEvent(pkg, event, dir)) continue;
      const result = await runLifecycleEvent(dir, event, options);
      if (result.exitCode !== 0) {
        throw new ReleaseSwitcherError(
          'DEPENDENCY_INSTALL_FAILED',
          `The ${event} script of ${node.name}@${node.version} ${result.timedOut ? 'timed out' : 'failed'}:\n${tail(result.output)}`,
          {
            hint: 'Nothing was changed. Run `npm install -g` of the same spec with the same Node to reproduce.',
          },
        );
      }
      if ((pkg.scripts as Record<string, string> | undefined)?.[event]) ran.push(`${node.name} ${event}`);
    }
  };
  if (!options.ignoreScripts) await phase('preinstall');
  // Reused packages got their bin symlinks with their links (linkReusedBins: symlinks only, the targets are shared
  // inodes), and so do these if linked from the store (a main package's bundled ones): their targets have the mode
  // bin-links gave them when the store took them.
  const linked = options.linkedBins ?? new Set<string>();
  await linkReusedBins(
    options.pkgDir,
    extracted.filter((node) => linked.has(node.location)),
  );
  await linkBins(
    options.pkgDir,
    extracted.filter((node) => !linked.has(node.location)),
  );
  if (!options.ignoreScripts) {
    await phase('install');
    await phase('postinstall');
  }
  return ran;
}
