/**
 * The one error type of release-switcher. Every failure a user can meet carries a stable `code`
 * (listed in the README, with their meanings in docs/exit-codes-and-json.md), a `hint` naming what to run next,
 * and the upstream error as `cause`.
 * Only the CLI turns these into text and exit codes.
 */

/** The exit codes of docs/exit-codes-and-json.md ("Exit codes"). */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  rolledBack: 3,
  needsHuman: 4,
  busy: 5,
  /**
   * Accepted and handed to a runner: a success. It was 75 (EX_TEMPFAIL) until 2026-11-24, which `set -e`, a
   * `Type=oneshot` unit and Ansible read as a failure although the work was under way (docs/exit-codes-and-json.md, "Exit codes").
   * The key stays for the code that names it.
   */
  scheduled: 0,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Worst first: the order `--all` picks its exit code by, from its roots' (docs/exit-codes-and-json.md). A human must
 * act (4) outranks a release that failed and was rolled back (3), which outranks a bad command line (2), a failure
 * that changed nothing (1) and a root that was busy (5, nothing was tried there); success (0) is the least.
 */
export const EXIT_SEVERITY: readonly number[] = [
  ExitCode.needsHuman,
  ExitCode.rolledBack,
  ExitCode.usage,
  ExitCode.failed,
  ExitCode.busy,
  ExitCode.ok,
];

/** The worst of `codes` by EXIT_SEVERITY (0 when there are none; a code it does not know ranks as 1). */
export function worstExitCode(codes: Iterable<number>): number {
  const rank = (code: number) => {
    const at = EXIT_SEVERITY.indexOf(code);
    return at < 0 ? EXIT_SEVERITY.indexOf(ExitCode.failed) : at;
  };
  let worst: number = ExitCode.ok;
  for (const code of codes) if (rank(code) < rank(worst)) worst = code;
  return worst;
}

/** Stable error codes. Adding is fine; renaming breaks users. */
export const ErrorCodes = {
  USAGE: { exit: ExitCode.usage, summary: 'bad command line' },
  NOT_INITIALIZED: { exit: ExitCode.failed, summary: 'the root has no config.json' },
  INVALID_CONFIG: { exit: ExitCode.failed, summary: 'config.json is unreadable or invalid' },
  INVALID_SPEC: { exit: ExitCode.failed, summary: 'the package spec cannot be parsed' },
  WRONG_PACKAGE: { exit: ExitCode.failed, summary: 'the spec names another package than the root manages' },
  PACKAGE_NOT_FOUND: { exit: ExitCode.failed, summary: 'the registry has no such package' },
  VERSION_NOT_FOUND: { exit: ExitCode.failed, summary: 'no version matches the spec' },
  FETCH_FAILED: { exit: ExitCode.failed, summary: 'the package could not be downloaded' },
  INTEGRITY_MISMATCH: { exit: ExitCode.failed, summary: 'the tarball does not match its integrity' },
  SIGNATURE_INVALID: {
    exit: ExitCode.failed,
    summary: 'the registry signature is invalid or missing, or cannot be verified where it must be',
  },
  BAD_TARBALL: { exit: ExitCode.failed, summary: 'the tarball is truncated, corrupt or unsafe' },
  BAD_PACKAGE_JSON: { exit: ExitCode.failed, summary: 'package.json is missing or invalid' },
  ENGINE_MISMATCH: { exit: ExitCode.failed, summary: "the package's engines.node excludes the configured Node" },
  NODE_NOT_FOUND: { exit: ExitCode.failed, summary: 'the configured Node cannot be run' },
  DEPENDENCY_INSTALL_FAILED: { exit: ExitCode.failed, summary: 'installing dependencies or a lifecycle script failed' },
  SMOKE_FAILED: { exit: ExitCode.failed, summary: 'the staged release failed its smoke check' },
  ADOPT_UNPROVEN: {
    exit: ExitCode.failed,
    summary: 'the install keeps its dependencies outside its folder and is not provably the registry version',
  },
  DISK_FULL: { exit: ExitCode.failed, summary: 'no space left on the device' },
  VERSION_CONFLICT: { exit: ExitCode.failed, summary: 'the version is installed from a different tarball' },
  RELEASE_NOT_FOUND: { exit: ExitCode.failed, summary: 'no such installed release' },
  RELEASE_UNSAFE: { exit: ExitCode.failed, summary: 'a symlink in the staged release resolves outside it' },
  INVALID_VERSION: {
    exit: ExitCode.failed,
    summary: 'a version string is not an exact semver version, or not the one asked for',
  },
  LOCK_LOST: { exit: ExitCode.needsHuman, summary: 'the lock was taken over while this operation held it; it stopped' },
  RELEASE_TAMPERED: { exit: ExitCode.needsHuman, summary: 'a sealed release no longer matches its manifest' },
  NO_PREVIOUS: { exit: ExitCode.failed, summary: 'there is no previous release to roll back to' },
  CORRUPT_STATE: { exit: ExitCode.needsHuman, summary: 'state.json is unreadable or invalid' },
  INCONSISTENT_ROOT: { exit: ExitCode.needsHuman, summary: 'the root is not in a shape release-switcher can repair' },
  SUPERVISOR_FAILED: { exit: ExitCode.failed, summary: 'the supervisor refused or failed a command' },
  UNSUPPORTED: { exit: ExitCode.failed, summary: 'not possible with this supervisor or on this system' },
  CHANNEL_UNSUPPORTED: {
    exit: ExitCode.failed,
    summary: "the update channel is not one packages can follow (OpenClaw's git-checkout dev, or an unknown name)",
  },
  PREFLIGHT_FAILED: {
    exit: ExitCode.failed,
    summary: 'the candidate failed its rehearsal on a private port; nothing was flipped or restarted',
  },
  ROLLED_BACK: {
    exit: ExitCode.rolledBack,
    summary: 'the new release failed; the previous one is running and verified',
  },
  ROLLBACK_FAILED: {
    exit: ExitCode.needsHuman,
    summary: 'the new release failed and so did bringing the previous one back',
  },
  STATE_SNAPSHOT_MISSING: {
    exit: ExitCode.failed,
    summary: 'going back would start a release on state of a newer schema, and there is no snapshot to restore',
  },
  STATE_CHECKPOINT_MISSING: {
    exit: ExitCode.rolledBack,
    summary:
      'the new release started without the state checkpoint it was owed (the boot-check did not run or took none): it failed its verification and the previous one is running again, on the state the new one left',
  },
  CHECKPOINT_MISMATCH: {
    exit: ExitCode.failed,
    summary:
      'the checkpoint named with --checkpoint holds the state of another release than the target; nothing changed',
  },
  STATE_COPY_FAILED: {
    exit: ExitCode.failed,
    summary:
      "a copy of the service's state could not be made (the environment, not the candidate); nothing was switched",
  },
  PORT_TAKEN: {
    exit: ExitCode.failed,
    summary:
      'the rehearsal failed because another process holds a port the candidate needs (the environment, not the candidate); nothing was switched',
  },
  STATE_OWNED: {
    exit: ExitCode.failed,
    summary:
      'the rehearsal failed because its private copy of the state names a live process as its owner (the environment, not the candidate); nothing was switched',
  },
  CAPABILITY_CONSENT_REQUIRED: {
    exit: ExitCode.failed,
    summary:
      "a plugin's update declares new capabilities and the operator has not accepted them (--accept-capabilities)",
  },
  FINALIZE_FAILED: {
    exit: ExitCode.failed,
    summary:
      "the target's finalize failed on a private copy of the state, run before the stop; nothing was flipped or stopped",
  },
  DATABASE_INCOMPATIBLE: {
    exit: ExitCode.failed,
    summary: "the target release's database preflight calls the state incompatible or indeterminate",
  },
  RUNNER_NEVER_RAN: { exit: ExitCode.failed, summary: 'the runner that was to carry out the switch never started' },
  DOCTOR_FAILED: { exit: ExitCode.failed, summary: 'doctor found problems it could not fix' },
  PERMISSION_DENIED: {
    exit: ExitCode.failed,
    summary: 'the account running release-switcher may not read or write a path it needs (EACCES/EPERM)',
  },
  SERVICE_ACCOUNT_UNKNOWN: {
    exit: ExitCode.failed,
    summary:
      "the service's account or environment cannot be known from here, so its state cannot be found; nothing was changed",
  },
  STATE_PATH_UNSAFE: {
    exit: ExitCode.failed,
    summary:
      "a path in the service's state is not what release-switcher left there (a link or another account's folder where it keeps one of its own): refused, not followed; nothing was changed there",
  },
  STATE_NOT_FOUND: {
    exit: ExitCode.failed,
    summary: "the service's state (its database) is not where the service keeps it; nothing was changed",
  },
  BUSY: { exit: ExitCode.busy, summary: 'another operation holds the lock' },
  CANCELLED: { exit: ExitCode.failed, summary: 'the operation was aborted; nothing changed' },
  INTERNAL: { exit: ExitCode.failed, summary: 'an unexpected error' },
} as const satisfies Record<string, { exit: ExitCode; summary: string }>;
export type ErrorCode = keyof typeof ErrorCodes;

export interface ReleaseSwitcherErrorOptions {
  /** What the user should run or check next. */
  hint?: string;
  /** The upstream error. */
  cause?: unknown;
  /** Structured details for `--json` consumers. */
  details?: Record<string, unknown>;
  /** The transaction this failure ended, reported as the envelope's `result`. */
  result?: unknown;
}

/**
 * Marks every ReleaseSwitcherError. A registered symbol is the same in every copy of this library a
 * host may load (two versions in node_modules, a bundled and an installed one), where `instanceof`
 * answers no for an error of the other copy.
 */
const BRAND = Symbol.for('release-switcher.error');

export class ReleaseSwitcherError extends Error {
  override readonly name = 'ReleaseSwitcherError';
  /** See BRAND; not enumerable, so it stays out of JSON and inspection. */
  declare readonly [BRAND]: true;
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  result: unknown;

  constructor(code: ErrorCode, message: string, options: ReleaseSwitcherErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
    this.result = options.result;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** The exit code docs/exit-codes-and-json.md gives this error ("Error codes"). */
  get exitCode(): ExitCode {
    return ErrorCodes[this.code].exit;
  }

  /** User-fixable errors print without a stack; broken invariants print it. */
  get isBug(): boolean {
    return this.code === 'INTERNAL';
  }
}

/** True for a ReleaseSwitcherError of this or any other copy of the library. */
export function isReleaseSwitcherError(error: unknown): error is ReleaseSwitcherError {
  return typeof error === 'object' && error !== null && (error as { [BRAND]?: unknown })[BRAND] === true;
}

/** The errno of a Node system error, or undefined. */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Upstream codes of a tarball cut short or corrupt: node-tar's, zlib's, a stream closed early. */
const CORRUPT_TARBALL_CODES = /^(?:TAR_BAD_ARCHIVE|TAR_ABORT|Z_[A-Z_]+|ERR_STREAM_PREMATURE_CLOSE)$/;

export function isCorruptTarball(error: unknown): boolean {
  return CORRUPT_TARBALL_CODES.test(errnoOf(error) ?? '');
}

/**
 * The one mapping of those upstream errors to BAD_TARBALL, for the download (registry/fetch.ts) and the
 * unpacker (stage/unpack/unpack.ts) alike; `subject` names what the tarball is of, when known.
 */
export function asBadTarball(error: unknown, subject?: string): ReleaseSwitcherError {
  const code = errnoOf(error);
  const message = error instanceof Error ? error.message : String(error);
  return new ReleaseSwitcherError(
    'BAD_TARBALL',
    `The tarball${subject ? ` for ${subject}` : ''} is truncated or corrupt (${message}).`,
    {
      hint: 'Download it again; if it persists the published tarball is broken.',
      cause: error,
      ...(code ? { details: { upstreamCode: code } } : {}),
    },
  );
}

/** Wrap ENOSPC/EDQUOT as DISK_FULL; pass everything else through. */
export function asDiskFull(error: unknown, what: string): unknown {
  const errno = errnoOf(error);
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    return new ReleaseSwitcherError('DISK_FULL', `No space left while ${what}.`, {
      hint: 'Free some disk (release-switcher prune) and try again.',
      cause: error,
    });
  }
  return error;
}
