/**
 * `release-switcher/internals`: building blocks that the tests, the benchmarks and the integrations use and that
 * are not the product. No stability promise: they change with the code. Use the package root for what is public.
 * Each was exported from the root before the public API was pinned.
 */
export { LAYOUT_VERSION, RELEASE_MARKER, layoutOf, type Layout } from './store/layout.js';
export { flipSymlink } from './store/links.js';
export { LOCK_STALE_MS } from './store/lock.js';
export type { ReleaseMarker, ManifestEntry, SignatureRecord, SignatureStatus } from './store/manifest.js';
export type { State, ReleaseRecord } from './model/state.js';
export { systemdDropIn, systemdUnit, dropInPath, unitPath, installDropIn } from './unit-files/unit.js';
export { parseSchedule, timerStem } from './unit-files/timer.js';
export { timespanSeconds } from './service/timespan.js';
export {
  hostIdOf,
  decide,
  rolloutBucket,
  jitterSeconds,
  channelVersion,
  OPT_OUT_VARIABLES,
  JITTER_MAX_SECONDS,
  type PackumentView,
  type PolicyInput,
} from './autoupdate/index.js';
export { takeSnapshot, restoreSnapshot, type SnapshotManifest } from './snapshot/snapshot.js';
export { PRESETS } from './presets/index.js';
// Moved from the root when it came back to 36 values: the lists behind the types SupervisorName, Channel and
// SignaturePolicy (the root keeps the types), the order of exit codes `--all` reports, the runner's entry and the
// pieces of `--all` (the CLI's own loop; the root keeps the types of its result).
export { SUPERVISORS, CHANNELS, SIGNATURE_POLICIES } from './store/config.js';
export { EXIT_SEVERITY, worstExitCode } from './model/errors.js';
export { runScheduled } from './transaction/schedule.js';
export { acrossRoots, registeredRoots } from './verbs/fleet.js';
