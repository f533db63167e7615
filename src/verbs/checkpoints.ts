import { listSnapshots } from '../snapshot/snapshot.js';
import { type RootOptions, openSession } from '../store/session.js';

export interface CheckpointInfo {
  id: string;
  /**
   * `before-start`: the state as `fromVersion` left it, taken before transaction `id` first started `toVersion`.
   * `set-aside`: the live state a restore moved out of the way (transaction `setAsideBy`), whole, as `fromVersion`
   * left it: what a rollback would otherwise have lost.
   */
  kind: 'before-start' | 'set-aside';
  takenAt: string;
  fromVersion: string | null;
  toVersion: string;
  /** The state paths it holds, as resolved then. */
  paths: string[];
  /** Bytes it holds. */
  size: number;
  setAsideBy?: string;
}

export interface CheckpointsResult {
  /** Oldest first. */
  checkpoints: CheckpointInfo[];
}

/** The state checkpoints of a root (`snapshots/`). Reads only; takes no lock. */
export async function checkpoints(options: RootOptions): Promise<CheckpointsResult> {
  const { layout } = await openSession(options);
  return {
    checkpoints: (await listSnapshots(layout)).map(
      (s): CheckpointInfo => ({
        id: s.id,
        kind: s.setAsideBy ? 'set-aside' : 'before-start',
        takenAt: s.takenAt,
        fromVersion: s.fromVersion,
        toVersion: s.toVersion,
        paths: s.entries.map((e) => e.path),
        size: s.size,
        ...(s.setAsideBy && { setAsideBy: s.setAsideBy }),
      }),
    ),
  };
}
