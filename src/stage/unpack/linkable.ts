/**
 * Which earlier release file an entry being unpacked may be hardlinked to instead of written: the same
 * content and sealed mode (a release's files are sealed: their modes have no write bits).
 */
import path from 'node:path';
import { type ManifestEntry, sealedMode } from '../../store/manifest.js';

/** An earlier release, as far as linking from it goes: where it is and its manifest. */
export interface LinkableRelease {
  dir: string;
  files: readonly ManifestEntry[];
}

/**
 * Which file of `previous` holds this content with this sealed mode: the one at the same path if it
 * does, else any. Empty files are written (a link saves nothing).
 */
export function linkableIn(
  previous: LinkableRelease,
): (releasePath: string, file: { sha256: string; mode: number; size: number }) => string | undefined {
  const byContent = new Map<string, string>();
  const atPath = new Map<string, string>();
  for (const entry of previous.files) {
    if (entry.type !== 'file' || entry.size === 0) continue;
    const key = `${entry.sha256}:${entry.mode}:${entry.size}`;
    if (!byContent.has(key)) byContent.set(key, entry.path);
    atPath.set(entry.path, key);
  }
  return (releasePath, file) => {
    const key = `${file.sha256}:${sealedMode(file.mode)}:${file.size}`;
    const rel = atPath.get(releasePath) === key ? releasePath : byContent.get(key);
    return rel === undefined ? undefined : path.join(previous.dir, rel);
  };
}
