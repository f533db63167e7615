// The order vitest starts test files in: longest first, by a committed table of measured times (test/durations.json,
// written by `npm run test:durations` from the reports of earlier runs). Why a table: CI runs from a fresh clone, where
// vitest has no results cache of its own and starts the larger files (by bytes) first, so the longest file of a tier
// could start last and run alone while the other lane idles (the openclaw tier's longest file is ~1,600 s). Longest
// first (LPT) bounds the run by the sum over the lanes plus at most one short file. Everything else is vitest's own
// (BaseSequencer): sharding, the order of groups and projects, isolated before shared-worker files, and the order of
// the files the table does not know, which start before the known ones (a new file's time is unknown: early, it cannot
// be the tail).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** The table's file, from the repository's root. */
export const DURATIONS_FILE = 'test/durations.json';

/** What the sort needs to know of a file: its project's place in vitest's order, and its path from the root. */
export interface Placed {
  /** The file's project (files stay grouped by project, in the order vitest gives the projects). */
  project: string;
  /** From the repository's root, with `/`: the table's key. */
  file: string;
}

/**
 * `files` in vitest's order, reordered inside each project: files the table does not know first (in vitest's order),
 * then the known ones longest first (ties in vitest's order). Projects keep their places.
 */
export function longestFirst<T>(files: readonly T[], place: (file: T) => Placed, seconds: Record<string, number>): T[] {
  const projectRank = new Map<string, number>();
  const rows = files.map((item, index) => {
    const { project, file } = place(item);
    if (!projectRank.has(project)) projectRank.set(project, projectRank.size);
    const measured = seconds[file];
    return {
      item,
      index,
      project: projectRank.get(project)!,
      measured: typeof measured === 'number' ? measured : null,
    };
  });
  rows.sort((a, b) => {
    if (a.project !== b.project) return a.project - b.project;
    if (a.measured === null || b.measured === null) {
      if (a.measured === null && b.measured === null) return a.index - b.index;
      return a.measured === null ? -1 : 1;
    }
    return b.measured - a.measured || a.index - b.index;
  });
  return rows.map((row) => row.item);
}

/** The table's seconds by file; an absent or unreadable table orders nothing (vitest's own order stands). */
export function readDurations(root: string): Record<string, number> {
  try {
    return JSON.parse(readFileSync(path.join(root, DURATIONS_FILE), 'utf8')).seconds ?? {};
  } catch {
    return {};
  }
}

/** `sequence.sequencer` in vitest.config.ts. */
export class DurationSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const seconds = readDurations(root);
    return longestFirst(await super.sort(files), (spec) => placeOf(spec, root), seconds);
  }
}

/** A specification's project and path from `root`, `/`-separated. */
export const placeOf = (spec: TestSpecification, root: string): Placed => ({
  // A project's files share a place only within one group order (vitest runs each group after the previous one).
  project: `${spec.project.config.sequence.groupOrder}:${spec.project.name}`,
  file: path.relative(root, spec.moduleId).split(path.sep).join('/'),
});
