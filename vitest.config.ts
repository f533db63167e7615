import { existsSync, mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Four tiers (`npm run test:unit` while you work; `npm test` runs them all, as CI does):
// - unit: in-process only — no build (`dist/`), no registry, no systemd or pm2. The files are listed here
//   rather than guessed: a new test goes to the registry tier unless it is added to a list.
// - registry: the built CLI against the seeded Verdaccio (the default for a test file).
// - system: a private systemd --user, pm2, or root-only features (chattr +i, tmpfs mounts); the registry too.
// - openclaw: `*.openclaw.test.ts`, the real openclaw package on Node 24 (heavy: own timeouts).
export const UNIT = [
  'test/ansible/collection.test.ts',
  'test/api/public-api.test.ts',
  'test/autoupdate/policy.test.ts',
  'test/bench/peers.test.ts',
  'test/bench/phases.test.ts',
  'test/bench/store-cases.test.ts',
  'test/cli/conventions.test.ts',
  'test/cli/init-secret-args.test.ts',
  'test/cli/npmrc.test.ts',
  'test/cli/startup-imports.test.ts',
  'test/docs.test.ts',
  'test/doctor/deep.test.ts',
  'test/doctor/health-verdict.test.ts',
  'test/model/exit-severity.test.ts',
  'test/platform/chattr-batches.test.ts',
  'test/platform/lazy-require.test.ts',
  'test/platform/npm-credentials.test.ts',
  'test/platform/owned-path.test.ts',
  'test/platform/permission.test.ts',
  'test/platform/rotate-log.test.ts',
  'test/platform/run-as.test.ts',
  'test/platform/subprocess.test.ts',
  'test/platform/trust-rules.test.ts',
  'test/service/caller.test.ts',
  'test/service/finalize.test.ts',
  'test/service/health.test.ts',
  'test/service/listener-table.test.ts',
  'test/service/restart-handoff.test.ts',
  'test/service/refusal.test.ts',
  'test/service/supervisors/systemd-bounds.test.ts',
  'test/service/timespan.test.ts',
  'test/service/plugin-prefetch.test.ts',
  'test/tool/closure.test.ts',
  'test/unit-files/existing-unit.test.ts',
  'test/unit-files/cli-command.test.ts',
  'test/unit-files/unit-entry.test.ts',
  'test/transaction/origin.test.ts',
  'test/store/auto-update-pause.test.ts',
  'test/unit-files/privileged.test.ts',
  'test/rehearsal/candidate-env.test.ts',
  'test/transaction/unit-environment.test.ts',
  'test/rehearsal/preflight.test.ts',
  'test/unit-files/service-port.test.ts',
  'test/service/supervisors/launchd.test.ts',
  'test/snapshot/private-copy.test.ts',
  'test/snapshot/account-helpers.test.ts',
  'test/snapshot/snapshot.test.ts',
  'test/stage/unpack/hostile-corpus.test.ts',
  'test/stage/unpack/index.test.ts',
  'test/stage/unpack/read-entries.test.ts',
  'test/stage/unpack/unpack.test.ts',
  'test/stage/unpack/unpack-bounds.test.ts',
  'test/stage/resolve/packument-revalidate.test.ts',
  'test/registry/tarball-manifest.test.ts',
  'test/stage/reuse/fetch-ahead.test.ts',
  'test/stage/reuse/tree-record.test.ts',
  'test/stage/reuse/to-store.test.ts',
  'test/stage/place-beside.test.ts',
  'test/stage/smoke-inputs.test.ts',
  'test/stage/scripts/lifecycle-event.test.ts',
  'test/stage/scripts/script-env.test.ts',
  'test/store/config-shape.test.ts',
  'test/store/containment.test.ts',
  'test/store/content-store.test.ts',
  'test/store/fast-verify.test.ts',
  'test/store/release-dirs.test.ts',
  'test/store/roots-registry.test.ts',
  'test/store/seal.test.ts',
  'test/transaction/machine.test.ts',
  'test/transaction/plan-resume.test.ts',
  'test/transaction/record-owner.test.ts',
  'test/verbs/fleet-trust.test.ts',
  'test/verbs/follow.test.ts',
  'test/verbs/openclaw-plugin.test.ts',
];
export const SYSTEM = [
  'test/demo.test.ts',
  'test/verbs/fleet-systemd.test.ts',
  'test/ansible/rolling-update.test.ts',
  'test/doctor/doctor-service.test.ts',
  'test/doctor/drift.test.ts',
  'test/gateway/api.test.ts',
  'test/platform/remove-tree.test.ts',
  'test/rehearsal/preflight-switch.test.ts',
  'test/rehearsal/preflight-systemd.test.ts',
  'test/rehearsal/candidate-as-account.test.ts',
  'test/rehearsal/preflight-as-account.test.ts',
  'test/rehearsal/pm2-preflight.test.ts',
  'test/service/supervisors/pm2-switch.test.ts',
  'test/service/supervisors/pm2.test.ts',
  'test/service/foreign-listener.test.ts',
  'test/service/supervisors/systemd-switch.test.ts',
  'test/unit-files/restart-hold.test.ts',
  'test/unit-files/timer.test.ts',
  'test/unit-files/unit.test.ts',
  'test/snapshot/migration.test.ts',
  'test/snapshot/restore-recover.test.ts',
  'test/snapshot/account-boundary.test.ts',
  'test/store/errors.test.ts',
  'test/store/immutable.test.ts',
  'test/stage/store-immutable.test.ts',
  'test/support/system-manager.test.ts',
  'test/support/systemd.test.ts',
  'test/support/systemd-account.test.ts',
  'test/transaction/crash-way-back.test.ts',
  'test/transaction/systemd-handoff.test.ts',
  'test/transaction/handoff-mode.test.ts',
  'test/transaction/service-identity.test.ts',
  'test/transaction/service-account.test.ts',
  'test/transaction/privileged-boot-check.test.ts',
  'test/transaction/runtime-move.test.ts',
  'test/tool/moved-installation.test.ts',
  'test/tool/upgrade-in-flight.test.ts',
];
// A listed file that is not there (moved, renamed) would silently fall into the registry tier: refuse instead.
const missing = [...UNIT, ...SYSTEM].filter((file) => !existsSync(file));
if (missing.length > 0) throw new Error(`vitest.config.ts lists test files that do not exist: ${missing.join(', ')}`);
const OPENCLAW = ['**/*.openclaw.test.ts'];
// The real-openclaw install shapes (pnpm's, install-cli.sh's, the Ansible role's): CI runs them in its Node 26 pass
// (RS_OPENCLAW_TIER=shapes: that pass runs no other file of the tier) and skips them in its Node 24 pass
// (RS_SKIP_INSTALL_SHAPES, which says so in each file), so each real gateway run happens once per CI run.
const SHAPES = ['test/unit-files/*-shape.openclaw.test.ts'];
const ONLY_SHAPES = process.env.RS_OPENCLAW_TIER === 'shapes';
// The real gateway always runs on Node 24 (openclaw refuses older), so the openclaw tier runs in CI's Node 24 pass
// (beside its Node 20 pass, .ci/run); under Node 20 it would repeat the same gateway runs, several minutes
// each, with only our CLI's Node changed, which the integration tier already covers on both.
const OPENCLAW_TIER = Number(process.versions.node.split('.')[0]) >= 24;
if ((!OPENCLAW_TIER || ONLY_SHAPES) && !process.env.RS_OPENCLAW_TIER_NOTE) {
  process.env.RS_OPENCLAW_TIER_NOTE = '1';
  process.stderr.write(
    OPENCLAW_TIER
      ? `openclaw tier: only the install shapes (${SHAPES.join(', ')}): RS_OPENCLAW_TIER=shapes; the other files run in CI's Node 24 pass (.ci/run)\n`
      : `openclaw tier (*.openclaw.test.ts) skipped: Node ${process.versions.node} (the real gateway needs 24); it runs in CI's Node 24 pass, beside this one (.ci/run), or here with Node 24 first in PATH\n`,
  );
}

// CI's second pass (.ci/run: Node 26, `RS_NODE_PASS=newest`) runs the unit tier whole and, of the registry and system
// tiers, the files whose behaviour depends on the Node that runs the tool, its children or the service; every file
// runs in the Node 20 pass. Each entry says why it runs on both. The rest (the supervisors' failure matrix, locking,
// the transaction's paths with a fixture gateway, units as text, fleets, doctor) judges what systemd, pm2 and the file
// system do, the same whichever Node asks.
export const BY_NODE: Record<string, string> = {
  'test/stage/**/*.test.ts':
    "staging resolves the tree and runs npm's lifecycle scripts on the service's Node (engines, optional and native packages follow it) and unpacks on worker threads",
  'test/snapshot/**/*.test.ts':
    'checkpoints copy SQLite databases with node:sqlite, which Node 20 lacks (there the copy runs on the service Node or falls back)',
  'test/transaction/way-back-preflight.test.ts': 'a checkpoint of SQLite state (node:sqlite)',
  'test/transaction/state-copy-refusal.test.ts': 'a private copy of SQLite state (node:sqlite)',
  'test/transaction/runtime-move.test.ts': 'the runtime move: a release moves to another Node and back',
  'test/rehearsal/database-preflight.test.ts':
    "the database preflight opens the state with node:sqlite on the service's Node",
  'test/rehearsal/preflight-openclaw.test.ts': "the rehearsal's candidate runs on the service's Node",
  'test/rehearsal/pm2-preflight.test.ts': 'pm2 is a Node program: its daemon runs on the Node that runs the tool',
  'test/service/supervisors/pm2*.test.ts': 'pm2 is a Node program: its daemon runs on the Node that runs the tool',
  'test/registry/**/*.test.ts':
    "pacote and npm-registry-fetch over Node's own sockets and timers (deadlines, keep-alive) and node:crypto (signatures)",
  'test/store/presets.test.ts': "a preset's checks of the service's Node (node:sqlite, versions)",
  'test/cli/**/*.test.ts': "the CLI's start: the compile cache (Node 22.1+), lazy imports, signals, output streams",
  'test/api/**/*.test.ts': 'the package as a consumer loads it: exports, module resolution, types',
  'test/unit-files/adopt-openclaw.test.ts': 'adoption reads the Node a unit runs; its service runs on that Node',
};
const NEWEST_NODE_PASS = process.env.RS_NODE_PASS === 'newest';
/** `test/**\/x*.test.ts`-style patterns as a test of a path (only `**\/` and `*` are used above). */
const byNode = (file: string) =>
  Object.keys(BY_NODE).some((glob) =>
    new RegExp(
      `^${glob
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '§§')
        .replace(/\*/g, '[^/]*')
        .replace(/§§/g, '(?:.*/)?')}$`,
    ).test(file),
  );
if (NEWEST_NODE_PASS && !process.env.RS_NODE_PASS_NOTE) {
  process.env.RS_NODE_PASS_NOTE = '1';
  process.stderr.write(
    `RS_NODE_PASS=newest: the unit tier, and of the registry and system tiers the files whose behaviour depends on Node (BY_NODE in vitest.config.ts, each with its reason); every file runs in the Node 20 pass\n`,
  );
}

// Every temp folder of a run (the tests', the CLI's they spawn, npm's) lives under one folder made here, which
// the run-tmp teardown removes whatever a test left: a run leaves nothing in the machine's temp dir, even when a
// worker is killed before its own clean-up runs. The config is evaluated once, in the main process, before any
// worker is forked, so every worker and every child inherits TMPDIR.
if (!process.env.RS_RUN_TMP) {
  process.env.RS_RUN_TMP = mkdtempSync(join(tmpdir(), 'rs-run-'));
  process.env.TMPDIR = process.env.RS_RUN_TMP;
  // The host's list of roots (/var/lib/release-switcher/roots.json), which `init` as root adds to, is the machine's:
  // a test's roots go to the run's own (cliEnv names one per test; this covers every other command and library call).
  // test/run-tmp.ts fails a run that still wrote the host's.
  process.env.RELEASE_SWITCHER_SYSTEM_ROOTS = join(process.env.RS_RUN_TMP, 'system-roots.json');
  // release-switcher's pinned copy (src/tool/): the run's own tool home, made once per run for root (test accounts get
  // one each: test/support/tool-home.ts), never the host's /var/lib/release-switcher/tool.
  process.env.RELEASE_SWITCHER_TOOL_HOME = join(process.env.RS_RUN_TMP, 'tool-home-root');
}

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest's default is one worker less than the cores: a single file at a time on a 2-core machine.
    // Most of this suite waits (a unit's restart, a stability window, a health probe) rather than
    // computes, so two files at a time there; the whole suite passed so at a load average of 10.
    maxWorkers: Math.max(2, availableParallelism()),
    globalSetup: ['test/run-tmp.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: UNIT,
          // Type tests (`*.test-d.ts`: the public API's types) run through tsc with the unit tier.
          typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: 'tsconfig.typecheck.json' },
        },
      },
      // The registry and system projects share one seeded Verdaccio (test/global-setup.ts); either runs alone too.
      {
        extends: true,
        test: {
          name: 'registry',
          include: NEWEST_NODE_PASS ? Object.keys(BY_NODE) : ['test/**/*.test.ts'],
          exclude: [...UNIT, ...SYSTEM, ...OPENCLAW],
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'system',
          include: NEWEST_NODE_PASS ? SYSTEM.filter(byNode) : SYSTEM,
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'openclaw',
          include: OPENCLAW_TIER ? (ONLY_SHAPES ? SHAPES : OPENCLAW) : [],
          exclude: ['**/node_modules/**'],
          passWithNoTests: true,
          // Files side by side (two on this machine's kind): each gateway has its own manager, port, state dir by
          // a path of its own (its locks under /tmp/openclaw-state-locks-<uid>/ are named by that path's hash, or
          // private to its namespace: openclaw.ts), its own temp dir and account, and a test that looks for its
          // gateway's processes names its state dir. The tier took 1490 s one file at a time, 768 s two at a time.
          fileParallelism: true,
          testTimeout: 900_000,
          hookTimeout: 1_800_000,
        },
      },
    ],
  },
});
