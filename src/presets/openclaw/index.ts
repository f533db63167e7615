/**
 * The openclaw preset: the OpenClaw gateway (2026.9.x) as release-switcher serves it. Each value says where in
 * OpenClaw's docs or dist it comes from (docs/openclaw.md has the facts): its state dir (`$OPENCLAW_STATE_DIR`, else
 * `~/.openclaw`: `state/openclaw.sqlite`, one `agents/<id>/agent/openclaw-agent.sqlite` per agent), its config
 * (`$OPENCLAW_CONFIG_PATH`, else `openclaw.json`), its external-supervisor contract, its finalize, database preflight
 * and restart handoff.
 */
import type { Preset } from '../types.js';
import { openclawConfigFile } from './config-file.js';
import { openclawDatabaseAnswer } from './database-preflight.js';
import { OPENCLAW_PLUGINS } from './plugin-prefetch.js';
import { openclawHandoff } from './restart-handoff.js';

const OPENCLAW_STATE_DIR = '${OPENCLAW_STATE_DIR:-~/.openclaw}';

/** OpenClaw's external-supervisor contract (2026.9.x): both variables, never OPENCLAW_NO_RESPAWN. */
export const OPENCLAW_EXTERNAL_SUPERVISOR: Readonly<Record<string, string>> = {
  OPENCLAW_SUPERVISOR_MODE: 'external',
  OPENCLAW_SERVICE_REPAIR_POLICY: 'external',
};

/**
 * The skip switches of 2026.9.x that OpenClaw's own updater gives its rehearsal's candidate (`buildUpdateRehearsalPathEnv`
 * in its dist): no channel, provider, cron, Gmail watcher, canvas host, browser control server, model prewarm or
 * auto-update. A gateway started with them serves nothing of the user's.
 */
const OPENCLAW_REHEARSAL_SWITCHES: Readonly<Record<string, string>> = {
  OPENCLAW_SKIP_CHANNELS: '1',
  OPENCLAW_SKIP_PROVIDERS: '1',
  OPENCLAW_SKIP_CRON: '1',
  OPENCLAW_SKIP_GMAIL_WATCHER: '1',
  OPENCLAW_SKIP_CANVAS_HOST: '1',
  OPENCLAW_SKIP_BROWSER_CONTROL_SERVER: '1',
  OPENCLAW_SKIP_STARTUP_MODEL_PREWARM: '1',
  OPENCLAW_NO_AUTO_UPDATE: '1',
};

/**
 * The rehearsal as openclaw's own updater isolates a candidate (`update-candidate-rehearsal` and
 * `buildUpdateRehearsalPathEnv` in its dist): every path it could write under the private copy of its
 * state dir (`{state}`: the state paths keep their places under it), the skip switches of 2026.9.x so it
 * never starts a channel, a provider, cron, the Gmail watcher, the canvas host or the browser control
 * server, and a config of its own (`{config}`) on loopback with token auth (a random token per run) and
 * the control UI, cron, hooks and mDNS discovery off. `OPENCLAW_GATEWAY_PORT`/`_TOKEN` are set too, so
 * values the switcher's own environment may carry (run from inside the gateway) cannot leak in.
 */
const OPENCLAW_PREFLIGHT_ENV: Record<string, string> = {
  HOME: '{state}',
  TMPDIR: '{state}',
  XDG_CONFIG_HOME: '{state}/config',
  XDG_CACHE_HOME: '{state}/cache',
  XDG_DATA_HOME: '{state}/data',
  XDG_STATE_HOME: '{state}/state',
  OPENCLAW_HOME: '{state}',
  OPENCLAW_STATE_DIR: '{state}',
  OPENCLAW_CONFIG_PATH: '{config}',
  OPENCLAW_WORKSPACE_DIR: '{state}/workspace',
  OPENCLAW_GATEWAY_PORT: '{port}',
  OPENCLAW_GATEWAY_TOKEN: '{token}',
  ...OPENCLAW_REHEARSAL_SWITCHES,
};

/**
 * Run with the gateway's Node (>= 24: `node:sqlite`) on the private copy before the candidate starts. A copy of a
 * running gateway's databases carries its leases, which name a live process on this host: `state_leases` (the
 * gateway owner, plugin locks; 2026.9.6 refused to start: "Another Gateway owner lease is still active for this state
 * directory", measured), `agent_database_leases` (its migration then refused: "Agent main database is still open in
 * process N", measured on a rehearsal of 9.6 on 9.5's live state), `workspace_leases`. Nothing owns the copy, so every
 * lease table (`leases`, `*_leases`) of every SQLite file in it is emptied. `process.argv[1]` is `{state}`.
 */
const OPENCLAW_CLEAR_LEASES = [
  "const fs = require('node:fs'), path = require('node:path'), { DatabaseSync } = require('node:sqlite');",
  'const root = process.argv[1];',
  // Real folders only: a symlink in the copy may point back at the live state.
  "const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(path.join(dir, e.name)) : e.isFile() && e.name.endsWith('.sqlite') ? [path.join(dir, e.name)] : []);",
  'for (const file of fs.existsSync(root) ? walk(root) : []) {',
  '  const db = new DatabaseSync(file);',
  '  try {',
  "    const tables = db.prepare(\"SELECT name FROM sqlite_master WHERE type = 'table' AND (name = 'leases' OR name LIKE '%!_leases' ESCAPE '!')\").all().map((t) => t.name);",
  '    if (tables.length > 0) console.log(`${file}: ${tables.reduce((n, t) => n + Number(db.prepare(`DELETE FROM "${t}"`).run().changes), 0)} leases cleared (${tables.join(\', \')})`);',
  '  } finally { db.close(); }',
  '}',
].join('\n');

/**
 * The capability review's finalize on a private copy (transaction/capability-review-step.ts): the rehearsal's
 * isolation (nothing of OpenClaw's written outside the copy), the user's own config (its plugin entries decide what
 * finalize converges), the gateway's port moved off the live one.
 */
const OPENCLAW_REVIEW_ENV: Record<string, string> = {
  ...Object.fromEntries(Object.entries(OPENCLAW_PREFLIGHT_ENV).filter(([key]) => key !== 'OPENCLAW_GATEWAY_TOKEN')),
};

const OPENCLAW_PREFLIGHT_CONFIG = {
  gateway: {
    mode: 'local',
    bind: 'loopback',
    auth: { mode: 'token', token: '{token}' },
    tls: { enabled: false },
    tailscale: { mode: 'off' },
    controlUi: { enabled: false },
  },
  cron: { enabled: false },
  hooks: { enabled: false, internal: { enabled: false } },
  discovery: { mdns: { mode: 'off' } },
  logging: { file: '{state}/preflight.log' },
};

export const OPENCLAW: Preset = {
  settings: {
    package: 'openclaw',
    supervisor: 'systemd',
    unit: 'openclaw-gateway.service',
    // 503 while starting; the version is only told to local callers, which we are.
    healthUrl: 'http://127.0.0.1:18789/startupz',
    versionField: 'version',
    // OpenClaw's own updater gives a gateway started by an update five minutes to become healthy (its startup
    // watchdog, STARTUP_MIGRATION_LEASE_TTL_MS; docs/gateway/restart-recovery.md), and fails only then: a cold start
    // is 9–20 s on an idle host, 2026.9.6's first start also migrates its database, and on a host at load 9 we
    // measured 35–83 s from restart to `started`. A crash or a wrong answer still fails at once.
    verifyTimeout: 300,
    stableFor: 10,
    // `main` (dist/index.js) answers --version on a fast path, after it has checked that the
    // lifecycle scripts ran (.openclaw-lifecycle-pending gone): the bin (openclaw.mjs) only wraps it.
    smoke: ['dist/index.js', '--version'],
    schemaField: 'openclaw.schemaVersions',
    // The whole state dir (credentials, plugin payloads and install records, `.env`, databases, folders a later
    // release adds) and the config file wherever it lives, resolved by the boot-check in the unit's environment:
    // an update may change any of them, and a rollback must bring back all of them. A config inside the state dir
    // is taken once, with it. Residue (below) never travels; `--independent-path` leaves folders out.
    statePaths: [OPENCLAW_STATE_DIR, `\${OPENCLAW_CONFIG_PATH:-${OPENCLAW_STATE_DIR}/openclaw.json}`],
    // Its gateway locks live in the state dir (2026.9.x: `tmp/openclaw-<uid>/gateway.state.lock.sqlite`,
    // `gateway.<hash>.lock.sqlite`, `device-identity.<hash>.lock.sqlite`, naming the live owner; seen on the real
    // gateway); `tmp/` is its temporary runtime folder. A copy carrying them refuses to start "while pid N lives".
    residue: ['/tmp/', '*.lock', '*.lock.sqlite', '*.lock.sqlite-*'],
    preflight: ['dist/index.js', 'gateway', '--port', '{port}'],
    preflightEnv: OPENCLAW_PREFLIGHT_ENV,
    preflightConfig: OPENCLAW_PREFLIGHT_CONFIG,
    preflightPrepare: ['-e', OPENCLAW_CLEAR_LEASES, '{state}'],
  },
  // The unit runs `<node> <root>/current/dist/index.js gateway --port 18789`.
  entry: { entry: 'dist/index.js', args: ['gateway', '--port', '18789'] },
  // Its preinstall refuses Node < 24, and engines.node of 2026.9.x is ">=24.16.0 <25 || >=26.1.0".
  node: '>=24',
  // 2026.9.x `gateway run`: `--port`, else OPENCLAW_GATEWAY_PORT (N, host:N or [v6]:N), else `gateway.port` of its
  // config (a number > 0), else 18789 (resolveGatewayPort in its dist/paths-*.mjs). PORT means nothing to it.
  port: { flag: '--port', env: ['OPENCLAW_GATEWAY_PORT'], config: { file: openclawConfigFile, key: 'gateway.port' } },
  // docs/install/development-channels.md: `openclaw update --channel` persists it there; a bare `openclaw update`
  // follows it.
  channelSetting: {
    file: openclawConfigFile,
    key: 'update.channel',
    unsupported: { dev: "OpenClaw's git checkout of main, built in place" },
  },
  // Its startup migration copies a database aside before it migrates it (measured: `state.db.pre-startup-migration-*`).
  ownBackups: 'openclaw keeps *.pre-startup-migration-*.bak beside its databases',
  // Its shutdown budget (dist/systemd-unit-*.mjs): GATEWAY_SHUTDOWN_TIMEOUT_MS 325 s + GATEWAY_SUPERVISOR_EXIT_MARGIN_MS
  // 5 s = the TimeoutStopSec=330 its own unit writes and its `gateway status` audit requires (systemd-stop-timeout).
  // docs/cli/gateway/restart-and-supervision.md "External supervisors": self-update (`openclaw update`, the Control
  // UI's update.run) and native service install/start/stop are refused; the repair policy is a separate variable.
  environment: OPENCLAW_EXTERNAL_SUPERVISOR,
  // The unit's name as OpenClaw's gateway process carries it: a switch asked from inside it (update.run) runs outside.
  unitVariable: 'OPENCLAW_SYSTEMD_UNIT',
  // "Report success only after the new Gateway owns its listener and /startupz returns status: started".
  listenerOwnership: true,
  // docs/gateway/health.md: /startupz is 503 `starting` or `draining`, 200 `started`; only the last is success.
  startedWhen: { path: '/startupz', field: 'status', value: 'started' },
  // docs/reference/database-schemas/storage-changes.md "Preflight a target release": the shared state database, and
  // each agent's (docs/reference/database-schemas/layout.md: agents/<agentId>/agent/openclaw-agent.sqlite) with
  // `preflight-agent`, which 2026.9.5 and 2026.9.6 both have.
  databasePreflight: {
    answer: openclawDatabaseAnswer,
    args: ['dist/index.js', 'database', 'preflight', '{file}', '--json'],
    databases: '/state/openclaw\\.sqlite$',
    agents: {
      args: ['dist/index.js', 'database', 'preflight-agent', '{file}', '--agent-id', '{agent}', '--json'],
      databases: '/agents/([^/]+)/agent/openclaw-agent\\.sqlite$',
    },
  },
  // docs/cli/update/how-updates-run.md: what OpenClaw's own updater (and openclaw/ocm) runs after a core swap, the
  // gateway stopped: Doctor migrations, config repair, plugin convergence. Measured on 2026.9.6: 40-50 s on a 2-core
  // machine under load, most of it Doctor. Plugin updates keep OpenClaw's own 20-minute allowance: the bound is 30.
  finalize: {
    args: ['dist/index.js', 'update', 'finalize', '--json', '--yes', '--no-restart'],
    env: { OPENCLAW_UPDATE_POST_CORE: '1' },
    timeoutSeconds: 1800,
    name: 'update finalize', // the record's word: `2026.9.6 update finalize: ok (exit 0, …)`
    // docs/cli/update/repair-and-recovery.md: "An explicit --timeout still overrides each phase and its child
    // commands"; a phase past it fails with `stuckPhase`, after waiting up to the same budget for writers to settle.
    phaseTimeoutFlag: '--timeout',
    // docs/cli/update/repair-and-recovery.md: a plugin needing capability consent is not installed without it (`--yes`
    // does not accept it); it keeps its previous payload with PLUGIN_CAPABILITY_CONSENT_REQUIRED in the warnings.
    consentFlag: '--accept-capabilities',
    // docs/plugins/manage-plugins.md "Capability consent": bundled and verified first-party plugins (`@openclaw/*`
    // from its catalog) are exempt (plugin-prefetch.ts OPENCLAW_EXEMPT); a third-party plugin whose update declares
    // more capabilities waits for consent. `plugins update --dry-run` stops before the consent check
    // (dist/install-*.mjs), so the review runs finalize itself, on a copy, with the user's config and the service's npm
    // setup.
    consentReview: {
      code: 'PLUGIN_CAPABILITY_CONSENT_REQUIRED',
      env: OPENCLAW_REVIEW_ENV,
      config: { file: openclawConfigFile, inCopy: 'openclaw.json' },
      // The copy of a running gateway's databases names it as their owner: finalize would wait for it.
      prepare: ['-e', OPENCLAW_CLEAR_LEASES, '{state}'],
      howToReview: (plugin) =>
        `its openclaw.plugin.json; OpenClaw's interactive \`openclaw plugins update ${plugin}\` shows the consent screen`,
    },
    // `plugins list --json` measured (2026.9.6, @openclaw/matrix installed): 2.7 s, the gateway serving.
    extensions: OPENCLAW_PLUGINS,
    // docs/openclaw.md "What finalize writes": the config and its backups, the plugins' npm projects, rows of the
    // shared database (with the state's absolute path in them: hence the copy seen at the live path). The copy of a
    // serving gateway's databases names it as their owner: finalize would wait for it.
    // Its state-database coordinator keeps the gateway's ownership in `/tmp/openclaw-state-locks-<uid>/`, named by a hash
    // of the database's path (`resolveLifecycleCoordinatorBase` in its dist): seen at the live path, the copy is the
    // serving gateway's ("Doctor could not enter maintenance … another OpenClaw process owns gateway-lifecycle",
    // measured). And the port moves off the live one: on a failure its recovery probe asks the gateway on its port.
    // Between the copy and the stop the serving gateway and 9.5's own CLI (the restart request, the handoff consume)
    // write `logs/gateway-restart.log`, a log finalize neither reads nor needs, and rows of the shared database. Two
    // kinds of rows both write (measured, docs/openclaw.md): each 9.5 process that opens the state re-stamps its
    // startup-migration rows in `schema_meta`, which 9.6's migration replaces (it deletes `state-migrations` and
    // `startup-migrations`, sets `primary` to 18); and each process that loads a plugin re-stamps that plugin's own
    // migration state in `plugin_state_entries` (matrix: `inbound-dedupe-migration-state`), which the target's plugin
    // rewrote for itself in finalize; and `config_machine_state`'s `plugins.installedIndex`, which every process
    // regenerates from the plugin manifests and install records it sees ("generated by OpenClaw … DO NOT EDIT"): the
    // target's, made from the plugins finalize converged, is the one that matches them. And `config_health_entries`,
    // one row per config file (keyed by its path: its hash, size, times, inode as last seen healthy), which a serving
    // gateway writes a while after its start (measured: an update begun a minute after a restart found it changed by
    // both and ran finalize in the window) and finalize writes for the config it rewrote: once that config is put in
    // place (unchanged live since the copy, else it alone sends finalize into the window), the target's row is the one
    // that describes it. There the target's row stands; any other row the service wrote is carried over.
    ahead: {
      prepare: ['-e', OPENCLAW_CLEAR_LEASES, '{state}'],
      unaffected: ['/logs/'],
      ownedTables: ['schema_meta', 'plugin_state_entries', 'config_machine_state', 'config_health_entries'],
      config: openclawConfigFile,
      env: { OPENCLAW_GATEWAY_PORT: '{port}' },
      privateFolders: ['/tmp/openclaw-state-locks-{uid}'],
      // docs/openclaw.md "The first start, ahead": 2026.9.6's first gateway start after finalize runs its startup
      // migrations and stamps them with the config's fingerprints (the port passed on the command line and in
      // OPENCLAW_GATEWAY_PORT left them matching, measured); the real start then skips them. Started with the user's
      // config and OpenClaw's own rehearsal switches, and no Bonjour advertisement of a second gateway.
      firstStart: {
        // On loopback and without Tailscale exposure whatever the config binds or serves (`gateway run --bind`,
        // `--tailscale`, docs/cli/gateway/running.md): neither enters the stamp (measured: a config on `lan` started
        // ahead with `--bind loopback --tailscale off`, its real start then ran no startup migration).
        args: ['dist/index.js', 'gateway', '--port', '{port}', '--bind', 'loopback', '--tailscale', 'off'],
        env: { ...OPENCLAW_REHEARSAL_SWITCHES, OPENCLAW_DISABLE_BONJOUR: '1' },
      },
      // What every gateway start writes of itself, the start ahead too: its boot record (and the closing of the one
      // before: the serving gateway's, which writes its own at its exit), its CLI device token's refresh (the serving
      // side's CLI refreshes it too: the restart request, the handoff consume). The live side's rows stand.
      liveTables: ['gateway_boot_lifecycle', 'device_auth_tokens', 'device_pairing_paired'],
    },
  },
  // docs/cli/gateway/restart-and-supervision.md "External supervisors": 2026.9.5 and 9.6 both answer protocol 1 with
  // consume (measured). In external mode `gateway restart` targets the verified running gateway, which writes the
  // handoff and exits; the supervisor consumes it with that PID before the next process starts. A plain restart
  // first drains active work for up to 300 s (measured on 9.6: a chat turn streaming from a slow model held it until
  // the turn ended); `--wait 1s` bounds the drain: what is still running is stamped for restart recovery, aborted,
  // and resumed by the next process a few seconds after it starts (docs/gateway/restart-recovery.md; measured: the
  // gateway exited 7 s after the request, the turn resumed on the new process).
  restartHandoff: openclawHandoff({
    capabilities: ['dist/index.js', 'gateway', 'restart-handoff', 'capabilities', '--json'],
    request: ['dist/index.js', 'gateway', 'restart', '--wait', '1s'],
    consume: ['dist/index.js', 'gateway', 'restart-handoff', 'consume', '--expected-pid', '{pid}', '--json'],
  }),
  // `update status` only reads; `update finalize` is what we run ourselves after a flip.
  selfUpdate: { command: 'update', allowed: ['status', 'finalize', '--help', '-h'] },
  stop: {
    drainSeconds: 325,
    marginSeconds: 5,
    why: "openclaw's own shutdown budget; its service audit requires TimeoutStopSec=330 or longer",
  },
};
