/**
 * release-switcher: the library. Everything the CLI does is one of these functions. The root exports the verbs,
 * the one error and the types they take and return, and nothing else: this list is pinned by
 * test/api/public-api.test.ts, at most 36 values, and docs/library-api.md lists it. Building blocks the tests,
 * benchmarks and integrations need are in `release-switcher/internals` (src/internals.ts), with no promise that
 * they stay.
 */

// The verbs (and their --dry-run plans).
export { init, type InitOptions, type InitResult } from './verbs/init.js';
export { install, planInstall, type InstallOptions, type InstallResult, type InstallPlan } from './verbs/install.js';
export { list, type ListResult, type ReleaseInfo } from './verbs/list.js';
export { checkpoints, type CheckpointsResult, type CheckpointInfo } from './verbs/checkpoints.js';
export { status, type Running, type StatusResult } from './verbs/status.js';
export {
  switchTo,
  rollback,
  planSwitchTo,
  planRollback,
  type SwitchOptions,
  type RollbackOptions,
} from './verbs/switch.js';
export { update, planUpdate, type UpdateOptions, type UpdatePlanOptions } from './verbs/update.js';
export type { SwitchPlan } from './transaction/plan.js';
export { bootCheck, type BootCheckOptions, type BootCheckResult } from './verbs/boot-check.js';
export type { HandoffOptions } from './transaction/schedule.js';
export { prune, planPrune, type PruneOptions, type PruneResult } from './verbs/prune.js';
export { pin, type PinOptions, type PinResult } from './verbs/pin.js';
export { adopt, type AdoptOptions, type AdoptResult } from './verbs/adopt.js';
export { doctor, type DoctorOptions, type DoctorResult } from './verbs/doctor.js';
export {
  forget,
  type RootsOptions,
  type RegisteredRoot,
  type RegisteredRoots,
  type ForgetOptions,
  type ForgetResult,
  type AcrossRootsOptions,
  type AcrossRootsResult,
  type RootOutcome,
} from './verbs/fleet.js';
export type { RootsFiles } from './store/roots-registry.js';
export type { CheckResult as DoctorCheck } from './doctor/checks.js';
export { recover, type RecoverResult } from './verbs/recover.js';
export { followTransaction, type FollowOptions } from './verbs/follow.js';
export {
  openclawPlugin,
  type OpenclawPluginOptions,
  type OpenclawPluginResult,
} from './verbs/openclaw-plugin.js';
export {
  readConfig,
  type Config,
  type Settings,
  type SupervisorName,
  type Channel,
  type SignaturePolicy,
} from './store/config.js';
export {
  unit,
  type UnitOptions,
  type UnitResult,
  type ServiceOptions,
  type UnitKind,
  type UnitScope,
} from './unit-files/unit.js';
export { timer, type TimerOptions, type TimerResult, type TimerFile } from './unit-files/timer.js';
export { check, autoUpdate, pauseAutoUpdate, resumeAutoUpdate } from './autoupdate/index.js';
export type {
  CheckOptions,
  CheckResult,
  AutoUpdateOptions,
  AutoUpdateResult,
  AutoUpdateSkipped,
  AutoUpdatePause,
  PauseOptions,
  Decision,
  NoneReason,
  RollbackReason,
  PolicyEvidence,
  PolicyResult,
} from './autoupdate/index.js';
export { runCli, type CliIo } from './cli/run.js';
export { requestUpdate, updateStatus, type RequestUpdateOptions, type UpdateStatus } from './gateway/index.js';

// The one error.
export {
  ReleaseSwitcherError,
  ErrorCodes,
  ExitCode,
  type ErrorCode,
  isReleaseSwitcherError,
} from './model/errors.js';

// What the verbs take and return.
export type {
  Transaction,
  TransactionStatus,
  TransactionKind,
  TransactionWarning,
  TransactionOrigin,
  OriginBy,
  OriginWhy,
  NodeRef,
  Step,
  ReleaseState,
} from './model/state.js';
export type { Runtime, ProgressEvent, Phase } from './model/runtime.js';
export type { RootOptions } from './store/session.js';
