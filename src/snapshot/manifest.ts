/** A checkpoint's manifest (`snapshots/<id>/snapshot.json`): what it holds and where, for taking, restoring and swapping. */

export interface SnapshotEntry {
  /** Absolute path of the state, as resolved when the snapshot was taken. */
  path: string;
  /** `absent`: it did not exist then, so a restore deletes it. A symlinked path is followed. */
  type: 'file' | 'dir' | 'absent';
  /** Bytes (of every file below, for a directory). */
  size?: number;
  /** Where the copy is, relative to the snapshot folder: `data/<n>`. */
  stored?: string;
  /** A SQLite file's `-wal`, `-shm` and `-journal`, taken with it: present (copied) or absent (deleted on restore). */
  companions?: Array<{ suffix: string; present: boolean; size?: number }>;
}

export interface SnapshotManifest {
  /** The transaction whose target first started after it was taken. */
  id: string;
  takenAt: string;
  /** The release that ran on this state; the one it is restored for. */
  fromVersion: string | null;
  /** The release about to start on it. */
  toVersion: string;
  /** The configured state paths, unexpanded. */
  statePaths: string[];
  entries: SnapshotEntry[];
  /** Bytes copied. */
  size: number;
  /** When its copy began, on the ctime clock (reconcile.ts fsNow): a file unchanged since is shared by a later one. */
  startedAt?: number;
  /** Folders declared independent (`--independent-path`), as resolved then: neither taken nor restored. */
  independent?: string[];
  /**
   * A set-aside: the live state a restore for this transaction moved out of the way (swap.ts), kept whole as the
   * leaving release left it (`fromVersion`), so going back to that release can put it back.
   */
  setAsideBy?: string;
}
