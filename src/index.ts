/** release-switcher: the library. Everything the CLI does is one of these functions. */
export { init, type InitOptions, type InitResult } from './verbs/init.js';
export { install, type InstallOptions, type InstallResult } from './verbs/install.js';
export { list, type ListResult, type ReleaseInfo } from './verbs/list.js';
export { status, type Running, type StatusResult } from './verbs/status.js';
export { switchTo, rollback, type SwitchOptions, type RollbackOptions } from './verbs/switch.js';
export { update, type UpdateOptions } from './verbs/update.js';
export { bootCheck, type BootCheckOptions, type BootCheckResult } from './verbs/boot-check.js';
export { runScheduled, type HandoffOptions } from './transaction/schedule.js';
export { prune, type PruneOptions, type PruneResult } from './verbs/prune.js';
export { pin, type PinOptions, type PinResult } from './verbs/pin.js';
export { adopt, type AdoptOptions, type AdoptResult } from './verbs/adopt.js';
export { doctor, type DoctorOptions, type DoctorResult } from './verbs/doctor.js';
export type { CheckResult as DoctorCheck } from './doctor/checks.js';
export { recover, type RecoverResult } from './verbs/recover.js';
export {
  type Config,
  type Settings,
  type SupervisorName,
  type Channel,
  type SignaturePolicy,
  SUPERVISORS,
  CHANNELS,
  SIGNATURE_POLICIES,
  readConfig,
} from './store/config.js';
export { ReleaseSwitcherError, ErrorCodes, ExitCode, type ErrorCode, isReleaseSwitcherError } from './model/errors.js';
export type {
  Transaction,
  TransactionStatus,
  TransactionKind,
  Step,
  ReleaseRecord,
  ReleaseState,
  State,
} from './model/state.js';
export { LAYOUT_VERSION, RELEASE_MARKER, layoutOf, type Layout } from './store/layout.js';
export { flipSymlink } from './store/links.js';
export { LOCK_STALE_MS } from './store/lock.js';
export type { ReleaseMarker, ManifestEntry, SignatureRecord, SignatureStatus } from './store/manifest.js';
export type { Runtime, ProgressEvent, Phase } from './model/runtime.js';
export type { RootOptions } from './store/session.js';
export {
  unit,
  systemdDropIn,
  systemdUnit,
  dropInPath,
  unitPath,
  installDropIn,
  type UnitOptions,
  type UnitResult,
  type ServiceOptions,
  type UnitKind,
  type UnitScope,
} from './unit-files/unit.js';
export { runCli, type CliIo } from './cli/run.js';
export { requestUpdate, updateStatus, type RequestUpdateOptions, type UpdateStatus } from './gateway/index.js';
export {
  check,
  autoUpdate,
  hostIdOf,
  decide,
  rolloutBucket,
  jitterSeconds,
  channelVersion,
  OPT_OUT_VARIABLES,
  JITTER_MAX_SECONDS,
} from './autoupdate/index.js';
export type {
  CheckOptions,
  CheckResult,
  AutoUpdateOptions,
  AutoUpdateResult,
  AutoUpdateSkipped,
  Decision,
  NoneReason,
  RollbackReason,
  PackumentView,
  PolicyInput,
  PolicyEvidence,
  PolicyResult,
} from './autoupdate/index.js';
export {
  timer,
  parseSchedule,
  timespanSeconds,
  timerStem,
  type TimerOptions,
  type TimerResult,
  type TimerFile,
} from './unit-files/timer.js';
export { takeSnapshot, restoreSnapshot, type SnapshotManifest } from './snapshot/snapshot.js';
export { PRESETS } from './store/presets.js';
