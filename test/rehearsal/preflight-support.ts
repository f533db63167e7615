// Gateway-shaped candidates for the preflight tests: the fixture server written straight into a release-like dir.
import { readdirSync, readlinkSync } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type GatewaySpec, writeGateway } from '../support/fixture-sources.ts';

export async function candidate(root: string, version: string, extra: Partial<GatewaySpec> = {}): Promise<string> {
  const dir = join(root, 'releases', version);
  await writeGateway(dir, { name: 'rs-fixture-gateway', version, depRange: '^1.1.0', engines: '>=20', ...extra });
  // What postinstall does; the server needs nothing else from its install to serve /health.
  await rm(join(dir, '.lifecycle-pending'));
  return dir;
}

/** Every file under `dir` with its bytes, to prove a live state byte-identical. */
export async function snapshotBytes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const file = join(entry.parentPath, entry.name);
      out[file] = (await readFile(file)).toString('base64');
    }
  }
  return out;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** PIDs whose working directory is `dir` (a rehearsal runs in the candidate's release folder). Linux /proc. */
export function processesIn(dir: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readlinkSync(`/proc/${pid}/cwd`) === dir) found.push(Number(pid));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}
