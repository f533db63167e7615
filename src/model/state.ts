/**
 * The journal's data: release records, transactions and their steps, as state.json holds them. Only
 * types and pure views here; reading and writing state.json is store/journal.ts.
 */

export type ReleaseState = 'installed' | 'pending' | 'good' | 'bad';

export interface ReleaseRecord {
  readonly version: string;
  readonly state: ReleaseState;
  readonly pinned: boolean;
  readonly installedAt: string;
  readonly integrity: string | null;
  /** Where it came from: the resolved tarball URL or file. */
  readonly source: string;
  /** Why it was marked bad. */
  readonly reason?: string;
  /** Registry signature check at install: verified, unsigned (the registry publishes no keys) or skipped. */
  readonly signatures?: 'verified' | 'unsigned' | 'skipped';
  /** The version announced a provenance attestation (recorded, not verified). */
  readonly provenance?: boolean;
  /**
   * The Node this release runs on, when one is configured: the one it last verified on, or (never activated) the one it
   * was staged for when that is not the service's. A switch to it moves the service onto it (Transaction.runtime).
   */
  readonly node?: NodeRef;
  /**
   * The release answered the preset's restart-handoff capability probe with the protocol it speaks (`1`): asked once,
   * the first time it was left, since its code cannot change (a release is immutable; staged again, its record is new).
   */
  readonly restartHandoff?: 1;
}

/** A Node as the journal names it: the file the unit runs, and its version when it was recorded. */
export interface NodeRef {
  readonly path: string;
  readonly version: string;
}

/**
 * Every step a transaction records, in no particular order (the order a switch runs them is
 * transaction/steps.ts `SWITCH_STEPS`, the plan transaction/switch-plan.ts). `install` is planned only (a runner records `stage`).
 */
export const STEP_NAMES = [
  'install',
  'stage',
  'handoff',
  'verify-release',
  'check-state',
  'database-preflight',
  'preflight',
  'capability-review',
  'finalize-ahead',
  'flip',
  'restore-state',
  'restart',
  'verify',
  'rollback',
  'database-preflight-previous',
  'restart-previous',
  'verify-previous',
  'recover',
  'boot-check',
  'restart-handoff',
  'finalize',
] as const;
export type StepName = (typeof STEP_NAMES)[number];
export type StepStatus = (typeof STEP_STATUSES)[number];
export interface Step {
  readonly name: StepName;
  readonly status: StepStatus;
  readonly ms: number;
  readonly detail?: string;
  /** Probe evidence of a verify step (probes, status, version, supervisor state). */
  readonly evidence?: unknown;
}

/**
 * A transaction's steps as everyone but transaction/record.ts sees them: an array to read (the public type is still
 * `Step[]`, as the JSON has it), whose methods that change it do not compile; record.ts alone adds steps.
 */
export type RecordedSteps = Step[] & {
  push: never;
  pop: never;
  shift: never;
  unshift: never;
  splice: never;
  sort: never;
  reverse: never;
  fill: never;
  copyWithin: never;
};

export const TRANSACTION_KINDS = ['update', 'switch', 'rollback', 'recover'] as const;
export type TransactionKind = (typeof TRANSACTION_KINDS)[number];
export const TERMINAL_STATUSES = [
  'verified',
  'switched',
  'up_to_date',
  'rolled_back',
  'rollback_failed',
  'failed',
] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];
export const IN_FLIGHT_STATUSES = [
  'staging',
  'switching',
  'restarting',
  'verifying',
  'rolling_back',
  'scheduled',
] as const;
export type InFlightStatus = (typeof IN_FLIGHT_STATUSES)[number];
export type TransactionStatus = TerminalStatus | InFlightStatus;
export const STEP_STATUSES = ['running', 'ok', 'failed', 'skipped'] as const;

export interface Transaction {
  readonly id: string;
  readonly kind: TransactionKind;
  readonly status: TransactionStatus;
  readonly from: string | null;
  readonly to: string | null;
  readonly reason: string | null;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly steps: RecordedSteps;
  /** Where the links pointed before the flip, so an interrupted flip can be undone. */
  readonly before?: { readonly current: string | null; readonly previous: string | null };
  /** For `rollback_failed`: what a human should run. */
  readonly hint?: string;
  /** A runner outside the service carries it out: when it was handed over and its last sign of life. */
  readonly scheduledAt?: string;
  readonly heartbeatAt?: string;
  /** A scheduled update whose runner stages the release first: what to install. */
  readonly spec?: string;
  /** false: asked for with `--no-preflight`; the runner that carries out a scheduled transaction skips the rehearsal too. */
  readonly preflight?: false;
  /**
   * true: asked for with `--accept-capabilities`: the target's finalize accepts each plugin's reviewed capability changes
   * (OpenClaw's own flag), recorded here for the runner and the operator.
   */
  readonly acceptCapabilities?: true;
  /**
   * Asked for with `--checkpoint ID`: that checkpoint (one holding the state the target left: `release-switcher
   * checkpoints`) is put back before the target starts, instead of what the rule of the way back would choose.
   */
  readonly checkpoint?: string;
  /** The latest progress of a runner's staging, for `update.status`. */
  readonly progress?: Readonly<{ phase: string; message: string; done?: number; total?: number; at: string }>;
  /** The state snapshot (`snapshots/<id>/`, id = this transaction's) the boot-check took before `to` first started. */
  readonly snapshot?: string;
  /** A snapshot to put back before `version` starts: the boot-check restores it while the service is stopped. */
  readonly restore?: Readonly<{ snapshot: string; version: string }>;
  /** What succeeded with a warning (OpenClaw's finalize: Doctor's and the plugins' warnings), for the operator to read. */
  readonly warnings?: readonly TransactionWarning[];
  /**
   * The stop window of an activation that verified (transaction/window.ts): from the moment the serving process stopped
   * serving until the new one first answered healthy, in contiguous parts (`handoff`, `stop`, `consume`,
   * `checkpoint`, `finalize`, `start`, `start-to-healthy`), and their sum.
   */
  readonly window?: { readonly parts: ReadonlyArray<Readonly<{ part: string; ms: number }>>; readonly totalMs: number };
  /**
   * The service's Node moves with this transaction (transaction/runtime.ts): the unit runs `from` before the flip and
   * `to` after it; every way back puts `from` back with the release.
   */
  readonly runtime?: Readonly<{ from: NodeRef; to: NodeRef; why: string }>;
  /** Asked for with `--node PATH`: the Node to run the target on (a runner carrying it out reads it here). */
  readonly node?: string;
  /**
   * An update that named no version: the channel it followed and where that was decided (`--channel`, `config.json
   * channel`, the service's own setting, `the default`), as `check` and `update --dry-run` name them.
   */
  readonly channel?: Readonly<{ channel: string; from: string }>;
  /** Who started it and why (absent on transactions recorded before it existed). */
  readonly origin?: TransactionOrigin;
}

/**
 * Who starts a transaction: a person's `command`, a tick of the auto-update `timer`, OpenClaw's gateway RPC, chat
 * command or agent, a `fleet` play (the Ansible module), the unit's `boot-check`, or a program calling the library
 * (`api`).
 */
export const ORIGIN_BY = [
  'command',
  'timer',
  'openclaw-rpc',
  'openclaw-chat',
  'openclaw-agent',
  'fleet',
  'boot-check',
  'api',
] as const;
export type OriginBy = (typeof ORIGIN_BY)[number];

/**
 * Why: a version or a rollback was asked for (`requested`), an update followed the channel (`channel`), the timer
 * found a newer release on the channel (`newer_version`), the running release was deprecated or unpublished (yanked)
 * on the registry, or it failed its verification (the boot-check's tries were spent).
 */
export const ORIGIN_WHY = [
  'requested',
  'channel',
  'newer_version',
  'current_deprecated',
  'current_unpublished',
  'failed_verification',
] as const;
export type OriginWhy = (typeof ORIGIN_WHY)[number];

export interface TransactionOrigin {
  readonly by: OriginBy;
  readonly why: OriginWhy;
  /** The account that ran it (`SUDO_USER` under sudo), when known. */
  readonly user?: string;
  /** Words for people: the command, or the timer's reading of the registry. */
  readonly detail?: string;
}

/** A warning a step of a transaction passed on: the step, the service's own code or reason when it gave one, what it said. */
export interface TransactionWarning {
  readonly step: string;
  readonly code?: string;
  /** The plugin it is about, when the service named one. */
  readonly plugin?: string;
  readonly message: string;
}

/** A mutation that is not a transaction (install, prune) but must still be finished or undone. */
export interface Operation {
  readonly kind: 'install' | 'prune';
  readonly id: string;
  readonly startedAt: string;
  /** install: the version being staged, once known. prune: the versions being removed. */
  readonly versions: readonly string[];
}

export interface State {
  readonly layoutVersion: number;
  readonly releases: Readonly<Record<string, ReleaseRecord>>;
  /** The transaction in flight, or null. */
  readonly transaction: Transaction | null;
  readonly operation: Operation | null;
  /** Finished transactions, newest last. */
  readonly history: readonly Transaction[];
}

/** A transaction as docs/exit-codes-and-json.md shows it (internal bookkeeping removed). */
export function publicTransaction(tx: Transaction | null): Transaction | null {
  if (!tx) return null;
  const { before: _before, ...rest } = tx;
  return rest;
}
