/** release-switcher: the library. Everything the CLI does is one of these functions. */
export { init, type InitOptions, type InitResult } from './commands/init.js';
export { install, type InstallOptions, type InstallResult } from './commands/install.js';
export { list, status, type ListResult, type ReleaseInfo, type StatusResult } from './commands/list.js';
export { switchTo, rollback, type SwitchOptions, type RollbackOptions } from './commands/switch.js';
export { prune, type PruneOptions, type PruneResult } from './commands/prune.js';
export { recover, type RecoverResult } from './commands/recover.js';
export { type Config, type Settings, type SupervisorName, type Channel, SUPERVISORS, CHANNELS, readConfig } from './config.js';
export { ReleaseSwitcherError, ErrorCodes, ExitCode, type ErrorCode, isReleaseSwitcherError } from './errors.js';
export type { Transaction, TransactionStatus, TransactionKind, Step, ReleaseRecord, ReleaseState, State } from './journal.js';
export { LAYOUT_VERSION, RELEASE_MARKER, layoutOf, type Layout } from './layout.js';
export { flipSymlink } from './links.js';
export { LOCK_STALE_MS } from './lock.js';
export type { ReleaseMarker, ManifestEntry } from './manifest.js';
export type { Runtime, ProgressEvent, Phase } from './runtime.js';
export type { RootOptions } from './session.js';
export { runCli, type CliIo } from './cli/run.js';
