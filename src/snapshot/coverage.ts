/**
 * What a checkpoint of the state covers right now, for `init` to show before any update relies on it:
 * each state path as the service would resolve it (from the environment given), its files and bytes,
 * and what is left out (residue by class, independent folders). Walks the tree with the same rules as
 * the copy, without copying.
 */
import { lstatSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ResidueFilter, namesLiveProcessSync } from './residue.js';
import { resolveIndependentPaths, resolveStatePaths } from './state-paths.js';

export interface CoveredPath {
  path: string;
  type: 'file' | 'dir' | 'absent';
  files: number;
  bytes: number;
}

export interface CheckpointCoverage {
  paths: CoveredPath[];
  /** Files and bytes over every path. */
  files: number;
  bytes: number;
  /** Entries left out as process residue (locks, PID files, sockets, tmp/, live owners), relative to their path. */
  residue: string[];
  /** Independent folders left out. */
  independent: string[];
}

export async function describeCheckpoint(input: {
  statePaths: readonly string[];
  independentPaths: readonly string[];
  residue: readonly string[];
  env: NodeJS.ProcessEnv;
}): Promise<CheckpointCoverage> {
  const skip = await resolveIndependentPaths(input.independentPaths, input.env);
  const filter = new ResidueFilter({ patterns: input.residue });
  const coverage: CheckpointCoverage = { paths: [], files: 0, bytes: 0, residue: [], independent: [...skip] };
  for (const p of await resolveStatePaths(input.statePaths, input.env)) {
    if (skip.has(p)) continue;
    const stat = await fs.stat(p).catch(() => undefined);
    const covered: CoveredPath = {
      path: p,
      type: stat?.isDirectory() ? 'dir' : stat ? 'file' : 'absent',
      files: 0,
      bytes: 0,
    };
    if (stat?.isDirectory()) await walk({ dir: p, rel: '', covered, coverage, filter, skip });
    else if (stat?.isFile()) Object.assign(covered, { files: 1, bytes: stat.size });
    coverage.paths.push(covered);
    coverage.files += covered.files;
    coverage.bytes += covered.bytes;
  }
  return coverage;
}

async function walk(at: {
  dir: string;
  rel: string;
  covered: CoveredPath;
  coverage: CheckpointCoverage;
  filter: ResidueFilter;
  skip: ReadonlySet<string>;
}): Promise<void> {
  for (const entry of await fs.readdir(at.dir, { withFileTypes: true })) {
    const rel = at.rel ? `${at.rel}/${entry.name}` : entry.name;
    const full = path.join(at.dir, entry.name);
    if (at.skip.has(full)) continue;
    if (at.filter.matches(rel, entry)) {
      at.coverage.residue.push(path.join(at.covered.path, rel));
      continue;
    }
    if (entry.isDirectory()) {
      await walk({ ...at, dir: full, rel });
      continue;
    }
    const size = lstatSync(full).size; // synchronous, as a copy's small files are (copy.ts SYNC_COPY_MAX)
    if (entry.isFile() && namesLiveProcessSync(full, entry.name, size)) {
      at.coverage.residue.push(full);
      continue;
    }
    at.covered.files += 1;
    at.covered.bytes += size;
  }
}

/** One line per path and a total, for people. */
export function formatCoverage(c: CheckpointCoverage): string {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const lines = c.paths.map((p) =>
    p.type === 'absent' ? `  ${p.path} (absent now)` : `  ${p.path} (${p.files} files, ${mb(p.bytes)})`,
  );
  lines.push(`  total ${c.files} files, ${mb(c.bytes)}`);
  if (c.residue.length > 0) lines.push(`  left out as process residue: ${c.residue.join(', ')}`);
  if (c.independent.length > 0) lines.push(`  left out as independent: ${c.independent.join(', ')}`);
  return lines.join('\n');
}
