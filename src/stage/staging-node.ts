/**
 * The Node a release is staged for (its lifecycle scripts run on it, its native parts are built for it), which is the
 * Node it will run on: the one asked for (`--node`), else the service's, unless the release's `engines.node` excludes
 * that one and another Node here satisfies it. Then the release is staged for that one and records it; switching to
 * it moves the service there, a transaction with its way back (transaction/runtime.ts).
 */
import path from 'node:path';
import semver from 'semver';
import type { ReleaseRecord } from '../model/state.js';
import { probeNode } from '../platform/node.js';
import { findNode } from '../platform/node.js';
import type { Session } from '../store/session.js';

/** The Node to stage `pkg` for when it is not the service's (undefined: the service's, as before). */
export async function nodeToStageFor(
  session: Session,
  releases: Record<string, ReleaseRecord>,
  pkg: { name: string; version: string; manifest: { engines?: Record<string, string> | undefined } },
  requested: string | undefined,
): Promise<string | undefined> {
  if (requested) return path.resolve(requested);
  const { config, runtime } = session;
  const range = pkg.manifest.engines?.node;
  if (typeof range !== 'string' || !semver.validRange(range)) return undefined; // npm ignores what it cannot read
  const serving = await probeNode(config.node ?? process.execPath, runtime.env, runtime.signal).catch(() => undefined);
  if (!serving || semver.satisfies(serving.version, range, { includePrerelease: true })) return undefined;
  // A Node the service ran on before comes first, then ours and each on PATH. None: staging refuses (ENGINE_MISMATCH).
  const recorded = Object.values(releases).flatMap((release) => (release.node ? [release.node.path] : []));
  return findNode({
    range,
    env: runtime.env,
    execPath: process.execPath,
    why: `${pkg.name}@${pkg.version}`,
    preferred: [...new Set(recorded)],
  }).catch(() => undefined);
}
