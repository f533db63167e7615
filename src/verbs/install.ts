import fs from 'node:fs/promises';
import { withDeadline } from '../platform/deadline.js';
import { resolvePackage } from '../registry/fetch.js';
import { type InstallResult, installLocked } from '../stage/install.js';
import { readState } from '../store/journal.js';
import { readLinkVersion } from '../store/links.js';
import type { SignaturePolicy } from '../store/config.js';
import { type RootOptions, openSession, withSignaturePolicy } from '../store/session.js';
import { refuseSpecCredentials } from '../platform/npm-credentials.js';
import { mutate } from '../transaction/mutate.js';

export type { InstallResult };

export interface InstallOptions extends RootOptions {
  /** npm spec: NAME@VERSION|TAG|RANGE, a bare version, tag or range of the managed package, a .tgz path or URL. */
  spec: string;
  /** Registry signatures for this call: auto (verify where the registry publishes keys), always, never. @default config.json's verifySignatures ("auto") */
  verifySignatures?: SignaturePolicy;
}

export interface InstallPlan {
  dryRun: true;
  version: string;
  /** Where the tarball would come from. */
  from: string;
  integrity: string | null;
  /** Bytes to download for the package itself (dependencies not included); null when the registry does not say. */
  tarballSize: number | null;
  /** Unpacked size and file count of the package itself, as the registry announces them (npmjs does; not every registry). */
  unpackedSize: number | null;
  fileCount: number | null;
  dependencies: number;
  alreadyInstalled: boolean;
  current: string | null;
  /** The registry signature check, done as install would do it (a bad one fails the plan with SIGNATURE_INVALID). */
  signatures: 'verified' | 'unsigned' | 'skipped';
}

/** What `install SPEC` would do, without doing it: resolve only (no lock, nothing written). */
export async function planInstall(options: InstallOptions): Promise<InstallPlan> {
  const { layout, config, runtime } = withSignaturePolicy(await openSession(options), options.verifySignatures);
  // The full document carries dist.unpackedSize and fileCount, which the abbreviated one may not.
  const pkg = await resolvePackage(options.spec, {
    config,
    runtime,
    where: runtime.cwd,
    extra: { fullMetadata: true },
  });
  const state = await readState(layout.root);
  const deps = {
    ...(pkg.manifest.dependencies as Record<string, string> | undefined),
    ...(pkg.manifest.optionalDependencies as Record<string, string> | undefined),
  };
  return {
    dryRun: true,
    version: pkg.version,
    from: pkg.resolved,
    integrity: pkg.integrity,
    tarballSize: await tarballSize(pkg.resolved),
    unpackedSize: pkg.manifest.dist?.unpackedSize ?? null,
    fileCount: pkg.manifest.dist?.fileCount ?? null,
    dependencies: Object.keys(deps).length,
    alreadyInstalled: Boolean(state.releases[pkg.version]),
    current: await readLinkVersion(layout, 'current'),
    signatures: pkg.signatures.status,
  };
}

/** The download size, from the file or a HEAD request; null when it cannot be told. */
async function tarballSize(resolved: string): Promise<number | null> {
  try {
    if (!/^https?:/.test(resolved)) return (await fs.stat(resolved.replace(/^file:/, ''))).size;
    const response = await withDeadline(10_000, `HEAD ${resolved}`, (signal) =>
      fetch(resolved, { method: 'HEAD', signal }),
    );
    const length = Number(response.headers.get('content-length'));
    return response.ok && Number.isFinite(length) && length > 0 ? length : null;
  } catch {
    return null;
  }
}

/** Stage and seal a release into releases/<version>. Never touches `current`. */
export async function install(options: InstallOptions): Promise<InstallResult> {
  refuseSpecCredentials(options.spec); // before the lock's record names the command
  return mutate(options, `install ${options.spec}`, (session) =>
    installLocked(withSignaturePolicy(session, options.verifySignatures), options.spec),
  );
}
