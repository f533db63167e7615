/**
 * The journal's data: release records, transactions and their steps, as state.json holds them. Only
 * types and pure views here; reading and writing state.json is store/journal.ts.
 */

export type ReleaseState = 'installed' | 'pending' | 'good' | 'bad';

export interface ReleaseRecord {
  version: string;
  state: ReleaseState;
  pinned: boolean;
  installedAt: string;
  integrity: string | null;
  /** Where it came from: the resolved tarball URL or file. */
  source: string;
  /** Why it was marked bad. */
  reason?: string;
  /** Registry signature check at install: verified, unsigned (the registry publishes no keys) or skipped. */
  signatures?: 'verified' | 'unsigned' | 'skipped';
  /** The version announced a provenance attestation (recorded, not verified). */
  provenance?: boolean;
  /**
   * The Node this release runs on, when one is configured: the one it last verified on, or (never activated) the one it
   * was staged for when that is not the service's. A switch to it moves the service onto it (Transaction.runtime).
   */
  node?: NodeRef;
}

/** A Node as the journal names it: the file the unit runs, and its version when it was recorded. */
export interface NodeRef {
  path: string;
  version: string;
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
  name: StepName;
  status: StepStatus;
  ms: number;
  detail?: string;
  /** Probe evidence of a verify step (probes, status, version, supervisor state). */
  evidence?: unknown;
}

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
  id: string;
  kind: TransactionKind;
  status: TransactionStatus;
  from: string | null;
  to: string | null;
  reason: string | null;
  startedAt: string;
  finishedAt: string | null;
  steps: Step[];
  /** Where the links pointed before the flip, so an interrupted flip can be undone. */
  before?: { current: string | null; previous: string | null };
  /** For `rollback_failed`: what a human should run. */
  hint?: string;
  /** A runner outside the service carries it out: when it was handed over and its last sign of life. */
  scheduledAt?: string;
  heartbeatAt?: string;
  /** A scheduled update whose runner stages the release first: what to install. */
  spec?: string;
  /** false: asked for with `--no-preflight`; the runner that carries out a scheduled transaction skips the rehearsal too. */
  preflight?: false;
  /**
   * true: asked for with `--accept-capabilities`: the target's finalize accepts each plugin's reviewed capability changes
   * (OpenClaw's own flag), recorded here for the runner and the operator.
   */
  acceptCapabilities?: true;
  /**
   * Asked for with `--checkpoint ID`: that checkpoint (one holding the state the target left: `release-switcher
   * checkpoints`) is put back before the target starts, instead of what the rule of the way back would choose.
   */
  checkpoint?: string;
  /** The latest progress of a runner's staging, for `update.status`. */
  progress?: { phase: string; message: string; done?: number; total?: number; at: string };
  /** The state snapshot (`snapshots/<id>/`, id = this transaction's) the boot-check took before `to` first started. */
  snapshot?: string;
  /** A snapshot to put back before `version` starts: the boot-check restores it while the service is stopped. */
  restore?: { snapshot: string; version: string };
  /** What succeeded with a warning (OpenClaw's finalize: Doctor's and the plugins' warnings), for the operator to read. */
  warnings?: TransactionWarning[];
  /**
   * The stop window of an activation that verified (transaction/window.ts): from the moment the serving process stopped
   * serving until the new one first answered healthy, in contiguous parts (`handoff`, `stop`, `consume`,
   * `checkpoint`, `finalize`, `start`, `start-to-healthy`), and their sum.
   */
  window?: { parts: Array<{ part: string; ms: number }>; totalMs: number };
  /**
   * The service's Node moves with this transaction (transaction/runtime.ts): the unit runs `from` before the flip and
   * `to` after it; every way back puts `from` back with the release.
   */
  runtime?: { from: NodeRef; to: NodeRef; why: string };
  /** Asked for with `--node PATH`: the Node to run the target on (a runner carrying it out reads it here). */
  node?: string;
  /**
   * An update that named no version: the channel it followed and where that was decided (`--channel`, `config.json
   * channel`, the service's own setting, `the default`), as `check` and `update --dry-run` name them.
   */
  channel?: { channel: string; from: string };
  /** Who started it and why (absent on transactions recorded before it existed). */
  origin?: TransactionOrigin;
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
  by: OriginBy;
  why: OriginWhy;
  /** The account that ran it (`SUDO_USER` under sudo), when known. */
  user?: string;
  /** Words for people: the command, or the timer's reading of the registry. */
  detail?: string;
}

/** A warning a step of a transaction passed on: the step, the service's own code or reason when it gave one, what it said. */
export interface TransactionWarning {
  step: string;
  code?: string;
  /** The plugin it is about, when the service named one. */
  plugin?: string;
  message: string;
}

/** A mutation that is not a transaction (install, prune) but must still be finished or undone. */
export interface Operation {
  kind: 'install' | 'prune';
  id: string;
  startedAt: string;
  /** install: the version being staged, once known. prune: the versions being removed. */
  versions: string[];
}

export interface State {
  layoutVersion: number;
  releases: Record<string, ReleaseRecord>;
  /** The transaction in flight, or null. */
  transaction: Transaction | null;
  operation: Operation | null;
  /** Finished transactions, newest last. */
  history: Transaction[];
}

/** A transaction as docs/exit-codes-and-json.md shows it (internal bookkeeping removed). */
export function publicTransaction(tx: Transaction | null): Transaction | null {
  if (!tx) return null;
  const { before: _before, ...rest } = tx;
  return rest;
}
