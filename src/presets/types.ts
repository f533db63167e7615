/**
 * What a preset tells the core about the service it serves: settings `init --preset NAME` writes, and facts each layer
 * reads through `servicePreset(config)` (presets/index.ts). The core knows these fields only; what they hold for a
 * service (its commands, files, variables) lives in that preset's folder.
 */
import type { StartedWhen } from '../model/started-when.js';
import type { RunAs } from '../platform/run-as.js';
import type { DatabaseAnswer } from '../rehearsal/database-preflight.js';
import type { Settings } from '../store/config.js';

export interface Preset {
  settings: Settings;
  /** What the unit runs inside a release (`release-switcher unit` without --entry). */
  entry?: { entry: string; args: string[] };
  /** The Node the service needs; one is looked for when none is configured. */
  node?: string;
  /** Where the service takes its port from, in the order it applies them (adopt reads the unit with it). */
  port?: PortSources;
  /** The service's own stop budget: `unit` never writes a TimeoutStopSec under drain + margin. */
  stop?: { drainSeconds: number; marginSeconds: number; why: string };
  /**
   * Variables the service and the root's commands (`<root>/bin/<name>`) run with: for openclaw, its external-supervisor
   * contract, so its own updater and native service repair leave the lifecycle to us.
   */
  environment?: Readonly<Record<string, string>>;
  /**
   * The target release's schema check of a consolidated copy of each state database matching `databases` (a regular
   * expression on the resolved path), run before every flip (the plan's `database-preflight` step, and
   * `database-preflight-previous` on the way back): `args` inside the release, `{file}` the copy; `answer` reads what it
   * said (rehearsal/database-preflight.ts runs it).
   */
  databasePreflight?: {
    answer: DatabaseAnswer;
    /** The shared state database's check (`{file}`: the consolidated copy). */
    args: readonly string[];
    /** Which files under the state paths it applies to. */
    databases: string;
    /** Each agent's database: its own check (`{agent}`: the id, the pattern's first group). */
    agents?: { args: readonly string[]; databases: string };
  };
  /**
   * The target release's post-core step, run after the flip with the old process stopped, after the state checkpoint
   * and before the target first starts (transaction/finalize-step.ts): `args` inside the release, run with the service's
   * Node (the configured one; the one running release-switcher when none is and the preset names no `node`), `env`
   * added to the service's environment. A failure rolls the transaction back and the checkpoint goes back. Only where
   * the supervisor can stop the service (systemd, pm2).
   */
  finalize?: {
    args: readonly string[];
    env: Readonly<Record<string, string>>;
    /** Our bound on the whole run: past it the process tree is ended (the last resort). */
    timeoutSeconds: number;
    /** What the record calls the command (`1.1.0 migration: ok (exit 0, 80 ms)`). @default "finalize" */
    name?: string;
    /**
     * How its outcome is judged (service/finalize.ts). `json-status`: exit 0 and one JSON document on stdout whose
     * `status` is `ok` or `warning` (OpenClaw's `update finalize --json`, whose `warning` is a success with text the
     * transaction carries as warnings). `exit-code`: exit 0 is a success, anything else a failure, the output plain
     * text kept for the operator (a migration command). A field, not a guess from the output: a migration that prints
     * JSON of its own (a report, a log line) must not be judged by a `status` it never meant as a verdict, and a
     * JSON-speaking command whose output is cut must not pass on its exit code alone.
     * @default "json-status"
     */
    verdict?: 'json-status' | 'exit-code';
    /**
     * true: a release without the command's file (`args[0]`) has nothing to run, and the step is skipped (a migration
     * a release may not need); false: its absence fails the step, as any failure of the command. @default false
     */
    optional?: boolean;
    /**
     * The command's own per-phase deadline option, given a value derived from our bound (service/finalize.ts
     * phaseTimeoutSeconds), so that the command ends a phase that hangs itself, cleanly, before our bound kills it.
     */
    phaseTimeoutFlag?: string;
    /** The command's option that accepts the add-ons' reviewed capability changes, given when the operator asked. */
    consentFlag?: string;
    /**
     * How the need for that consent is found before the stop (the plan's `capability-review` step,
     * transaction/capability-review-step.ts): the target's finalize run on a private copy of the state. `code`: the
     * code of a finalize outcome that waits for consent; `env`: the isolated run's environment on the copy (`{state}`
     * the copy, `{config}` the user's config in it, `{port}` an unused port); `config`: where the service keeps the
     * config the copy runs with, and its name in the copy when the service has none yet.
     */
    consentReview?: {
      code: string;
      env: Readonly<Record<string, string>>;
      config: { file: ConfigLocator; inCopy: string };
      /** Node arguments run on the copy first (`{state}` replaced), as the rehearsal's prepare step. */
      prepare?: readonly string[];
      /** How the operator sees what an add-on's new version declares, for the refusal's hint. */
      howToReview(addOn: string): string;
    };
    /** The service's add-ons that finalize converges: listed before the stop, prefetched, reviewed. */
    extensions?: Extensions;
    /**
     * Finalize may run before the stop (transaction/finalize-ahead-step.ts): on a private copy of the state folder that
     * it sees at the live folder's own path (a mount namespace of its own), its write set put in place by rename in
     * the window when the live state did not change under it. Absent: finalize runs in the window only.
     */
    ahead?: {
      /** Node arguments run on the copy first (`{state}`: the copy), e.g. to clear the live owner's leases from it. */
      prepare?: readonly string[];
      /**
       * Paths of the state folder (gitignore syntax, relative to it) the running service writes and its finalize
       * neither reads nor writes: a change there between the copy and the stop does not send finalize into the
       * window. SQLite databases are compared by table, not listed here. @default none
       */
      unaffected?: readonly string[];
      /** Where the service keeps its config: finalize ahead needs it inside the state folder (it rewrites it). */
      config?: ConfigLocator;
      /**
       * Tables of the service's SQLite databases that the target's finalize owns: where both changed rows, finalize's
       * version stands (the migration's own bookkeeping, which the old release rewrites each time it opens the state).
       */
      ownedTables?: readonly string[];
      /** More of finalize's environment on the copy (`{port}`: an unused loopback port). */
      env?: Readonly<Record<string, string>>;
      /**
       * Folders outside the state (`{uid}`: the account's) of which finalize on the copy gets an empty private one:
       * where the service records ownership keyed by the state's path (the copy, seen at that path, would be owned).
       */
      privateFolders?: readonly string[];
      /**
       * The target's first start, made ahead on the finalized copy (seen at the live path, in finalize's namespace),
       * after finalize: `args` inside the release (`{port}`: an unused loopback port), `env` added to finalize's. It is
       * stopped once the health URL (on that port) says it started with the target's version; what it wrote joins the
       * write set. The work a target does at its first start on a state and never again (OpenClaw: its startup
       * migrations, stamped with the config they ran under) is then done before the stop, and the real first start in
       * the window is a restart's. One that fails leaves finalize to the window, as before.
       */
      firstStart?: { args: readonly string[]; env: Readonly<Record<string, string>> };
      /**
       * Tables of the service's SQLite databases where a row both changed keeps the live service's version: what any
       * start of the service writes of itself (its boot record, its device token's refresh), which the first start
       * ahead writes too and the live service's own version must stand over.
       */
      liveTables?: readonly string[];
    };
  };
  /**
   * The service's own way out before the stop (the plan's `restart-handoff` step, transaction/restart-handoff-step.ts,
   * which opens the stop window): asked with the running release, it exits for a fresh-process restart instead of
   * draining for a SIGTERM, and what it handed over is consumed before the target starts.
   */
  restartHandoff?: HandoffProtocol;
  /**
   * The service's own update-channel setting in its config file (openclaw: `update.channel` of openclaw.json), which
   * `update` without a version and the auto-updater follow when config.json names no channel (transaction/channel.ts).
   */
  channelSetting?: ChannelSetting;
  /**
   * Where the service keeps backups of its own of the state it migrates, for the hint of a way back refused for want
   * of a checkpoint (transaction/state-return.ts).
   */
  ownBackups?: string;
  /**
   * The variable the service's own processes carry naming their unit: a caller that has it runs inside the service
   * (service/caller.ts), and a switch it asks for must run outside it.
   */
  unitVariable?: string;
  /** Verified also means the new main PID owns the listener (`/readyz` recorded beside, not judged). */
  listenerOwnership?: boolean;
  /**
   * On the health endpoint at `path`, a 2xx is healthy only when the body's `field` is `value` (openclaw's `/startupz`:
   * `status: "started"`); another path configured as the health URL is judged by its status and version only.
   */
  startedWhen?: StartedWhen & { path: string };
  /** The command's own updater (`<name> update …`): the root's command says it is ours before the service refuses it. */
  selfUpdate?: { command: string; allowed: readonly string[] };
}

/**
 * Where the service keeps its own config file, found as the service finds it in its environment; null when none exists.
 * `exists` asks whether a candidate is a file: root acting for the service's account passes one that asks as the
 * account, so that no link the account planted is followed with root's rights.
 */
export type ConfigLocator = (
  env: Record<string, string | undefined>,
  cwd?: string,
  exists?: (file: string) => Promise<boolean>,
) => Promise<string | null>;

/** A setting at a dot path (`key`) of the service's own config file, which `file` finds. */
export interface ServiceSetting {
  file: ConfigLocator;
  key: string;
}

/** The service's own update-channel setting, and the channels it knows that are no package's (name → what it is). */
export interface ChannelSetting extends ServiceSetting {
  unsupported?: Readonly<Record<string, string>>;
}

/** `flag` in the unit's arguments, else the first of `env` set for the unit, else `key` (a dot path) in its config file. */
export interface PortSources {
  flag: string;
  env: readonly string[];
  /** A setting of its own config file (JSON5, as the service reads it). */
  config?: ServiceSetting;
}

/** A call of the running release's own commands, on the service's Node, as its account. */
export interface HandoffCall {
  node: string;
  /** The release the service runs (its own CLI speaks for it). */
  releaseDir: string;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal | undefined;
  /** The account it runs as (the service's). @default this process's */
  as?: RunAs | undefined;
}

/** How a request to exit went: the old process gone (`exited`), after `ms`, or refused (what it said). */
export interface RestartExit {
  exited: boolean;
  ms: number;
  refused?: string;
  attempts: number;
}

/** The consumption's answer: `accepted` authorizes the fresh process; anything else does not. */
export interface ConsumeResult {
  status: string;
  reason?: string;
  handoff?: unknown;
}

/** A service's restart handoff (`Preset.restartHandoff`): each call bounded, none throws for the service's answer. */
export interface HandoffProtocol {
  /** true when the running release offers the handoff, else why not. */
  supported(call: HandoffCall): Promise<true | string>;
  /** Asks the running process `pid` to exit for a fresh-process restart; resolves once it exited or the time is up. */
  request(call: HandoffCall & { pid: number; logFile: string; timeoutMs: number }): Promise<RestartExit>;
  /** Consumes what the exited process `pid` handed over. */
  consume(call: HandoffCall & { pid: number }): Promise<ConsumeResult>;
}

/**
 * The service's own add-ons (OpenClaw's plugins), which the target's finalize converges: the running release lists
 * them before the stop (`list`: a command inside it that prints JSON), so that the packages finalize will install are
 * in npm's cache by then (service/package-prefetch.ts), and the capability review knows which may need consent.
 */
export interface Extensions {
  list: readonly string[];
  /** The npm specs finalize will install for `targetVersion`, read from the list. */
  prefetch(list: unknown, targetVersion: string): string[];
  /** Those whose update can wait for the operator's consent to new capabilities (ids, sorted). */
  reviewable(list: unknown): string[];
}
