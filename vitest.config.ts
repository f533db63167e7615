import { chmodSync, mkdtempSync, readFileSync, readdirSync, statfsSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { DurationSequencer } from './test/support/sequencer.ts';

// Four tiers (`npm run test:unit` while you work; `npm test` runs them all, as CI does). A file's tier is its name's
// ending, so a file says what it needs where it is declared (docs/testing.md, "Tiers"):
// - unit, `*.test.ts`: in-process only — no build (`dist/`), no registry, no test accounts, no systemd, pm2 or
//   root-only features. The default: test/tiers.test.ts fails a file of this tier that uses any of them
//   (test/support/tiers.ts reads what each file imports and starts), naming the part and the tier to move it to.
// - registry, `*.registry.test.ts`: the built CLI against the seeded Verdaccio, the test accounts.
// - system, `*.system.test.ts`: a private systemd manager, pm2, or root-only features (chattr +i, tmpfs mounts);
//   the registry too.
// - openclaw, `*.openclaw.test.ts`: the real openclaw package on Node 24 (heavy: own timeouts).
export type Tier = 'unit' | 'registry' | 'system' | 'openclaw';
/** Each tier's ending, lightest first (test/support/tiers.ts moves a file to the first that has all it uses). */
export const TIER_SUFFIX: Record<Tier, string> = {
  unit: '.test.ts',
  registry: '.registry.test.ts',
  system: '.system.test.ts',
  openclaw: '.openclaw.test.ts',
};
/** The tier of a test file, by its name. */
export const tierOf = (file: string): Tier =>
  (['registry', 'system', 'openclaw'] as const).find((tier) => file.endsWith(TIER_SUFFIX[tier])) ?? 'unit';
const HEAVY = ['registry', 'system', 'openclaw'].map((tier) => `**/*.${tier}.test.ts`);
/** Every test file under test/, from the repository's root, sorted. */
export const testFiles = (): string[] =>
  readdirSync(fileURLToPath(new URL('test', import.meta.url)), { recursive: true, encoding: 'utf8' })
    .map((file) => `test/${file.split(sep).join('/')}`)
    .filter((file) => file.endsWith('.test.ts'))
    .sort();
const OPENCLAW = ['**/*.openclaw.test.ts'];
// The real-openclaw install shapes (pnpm's, install-cli.sh's, the Ansible role's): CI runs them in its Node 26 pass
// (RS_OPENCLAW_TIER=shapes: that pass runs no other file of the tier) and skips them in its Node 24 pass
// (RS_SKIP_INSTALL_SHAPES, which says so in each file), so each real gateway run happens once per CI run.
export const SHAPES = ['test/unit-files/*-shape.openclaw.test.ts'];
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
  'test/transaction/way-back-preflight.registry.test.ts': 'a checkpoint of SQLite state (node:sqlite)',
  'test/transaction/state-copy-refusal.system.test.ts': 'a private copy of SQLite state (node:sqlite)',
  'test/transaction/runtime-move.system.test.ts': 'the runtime move: a release moves to another Node and back',
  'test/rehearsal/database-preflight.registry.test.ts':
    "the database preflight opens the state with node:sqlite on the service's Node",
  'test/rehearsal/preflight-openclaw.registry.test.ts': "the rehearsal's candidate runs on the service's Node",
  'test/rehearsal/pm2-preflight.system.test.ts':
    'pm2 is a Node program: its daemon runs on the Node that runs the tool',
  'test/service/supervisors/pm2*.test.ts': 'pm2 is a Node program: its daemon runs on the Node that runs the tool',
  'test/registry/**/*.test.ts':
    "pacote and npm-registry-fetch over Node's own sockets and timers (deadlines, keep-alive) and node:crypto (signatures)",
  'test/presets/presets.registry.test.ts': "a preset's checks of the service's Node (node:sqlite, versions)",
  'test/cli/**/*.test.ts': "the CLI's start: the compile cache (Node 22.1+), lazy imports, signals, output streams",
  'test/api/**/*.test.ts': 'the package as a consumer loads it: exports, module resolution, types',
  'test/unit-files/adopt-openclaw.system.test.ts': 'adoption reads the Node a unit runs; its service runs on that Node',
};
/**
 * Files under a folder BY_NODE names whose subject is not the Node (each with its reason): the Node 20 pass runs them,
 * the Node 26 pass does not. A new file under such a folder still joins the Node 26 pass by itself.
 */
export const NOT_BY_NODE: Record<string, string> = {
  'test/stage/store*.test.ts':
    "the content-addressed store: hard links between the store and releases, prune's collection, the immutable attribute on shared inodes and a tampered store file are the file system's, the same whichever Node asks (staging's Node-dependent paths run in the stage folder's other files)",
};
const NEWEST_NODE_PASS = process.env.RS_NODE_PASS === 'newest';
/** `test/**\/x*.test.ts`-style patterns as a test of a path (only `**\/` and `*` are used above). */
export const matches = (glob: string, file: string): boolean =>
  new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*\*\//g, '§§')
      .replace(/\*/g, '[^/]*')
      .replace(/§§/g, '(?:.*/)?')}$`,
  ).test(file);
export const byNode = (file: string): boolean =>
  Object.keys(BY_NODE).some((glob) => matches(glob, file)) &&
  !Object.keys(NOT_BY_NODE).some((glob) => matches(glob, file));
/** A tier's files in the Node 26 pass: those BY_NODE names. */
const newestOf = (tier: Tier) => testFiles().filter((file) => tierOf(file) === tier && byNode(file));
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
  // Test accounts pass through it (never list it) to what is shared with them for the whole run: the package and
  // Node copied for accounts, their tool homes (test/support/cli.ts, accounts.ts, tool-home.ts). The tiers' own temp
  // folders (RS_MEMORY_TMP below) are opened the same way as accounts' folders are made in them (accountTempDir).
  chmodSync(process.env.RS_RUN_TMP, 0o711);
  process.env.TMPDIR = process.env.RS_RUN_TMP;
  // The host's list of roots (/var/lib/release-switcher/roots.json), which `init` as root adds to, is the machine's:
  // a test's roots go to the run's own (cliEnv names one per test; this covers every other command and library call).
  // test/run-tmp.ts fails a run that still wrote the host's.
  process.env.RELEASE_SWITCHER_SYSTEM_ROOTS = join(process.env.RS_RUN_TMP, 'system-roots.json');
  // release-switcher's pinned copy (src/tool/): the run's own tool home, made once per run for root (test accounts get
  // one each: test/support/tool-home.ts), never the host's /var/lib/release-switcher/tool.
  process.env.RELEASE_SWITCHER_TOOL_HOME = join(process.env.RS_RUN_TMP, 'tool-home-root');
  // The temp folder (TMPDIR) of the unit, registry and system tiers: on tmpfs (/dev/shm) where the machine has one,
  // else the run's. Their files make and remove thousands of small files (the hostile corpus, an entry bomb, sealed
  // releases, fixture roots, staged trees, npm's caches): on an ext4 disk (here mounted with online discard, which
  // every removal pays) those system calls were 23 s of the unit tier's 53 s of CPU, on tmpfs 11 s; staging's
  // fast-path file (test/stage/fast.registry.test.ts) took 45.4 s user + 30.5 s system on disk and 43.9 + 17.7 on
  // tmpfs. CI is CPU-bound (three passes on 2 cores), so that is CI's time. The tiers judge what the code writes,
  // not the disk under it (chattr +i, sparse files, hard links and FIFOs hold on tmpfs too; a test of another
  // filesystem takes one that is not its root's, a full disk mounts its own). The openclaw tier's trees are gigabytes
  // per file: it works here only where the machine has room for them (RS_OPENCLAW_TMP below). Shared per-run things
  // (tool homes, the accounts' copies) stay under RS_RUN_TMP. test/run-tmp.ts checks and removes this folder with the run's.
  const memory = memoryTmp();
  if (memory) process.env.RS_MEMORY_TMP = memory;
}
process.env.RS_MEMORY_TMP ??= process.env.RS_RUN_TMP;
// The openclaw tier's temp folder: the in-memory one too, where the machine holds the tier's trees with room to spare
// (ROOMY_FOR_OPENCLAW), else the run's on disk. Its files make, copy and remove trees of 40,000 entries (a release
// adopted, one staged, a state with @openclaw/matrix's 5,000-file plugin copied for finalize ahead and checkpoints,
// a plugin copy at each gateway start): measured 2026-11-30, `readiness.openclaw.test.ts` alone as the account took
// 252-261 CPU-s (165-172 user, 80-97 system) and 221-228 s on this ext4 disk (online discard), 201 CPU-s (144 user, 57
// system) and 152 s on tmpfs, its folder and the prepared installs it links from holding 3.4 GB at the most. Gateways
// and OpenClaw's processes see what they see on disk: the tier judges what OpenClaw and release-switcher write, not the
// disk under it (the one file-system matter of the tier, hard links to the prepared installs, holds on tmpfs;
// openclaw-prepared.ts keeps a copy of them on the tier's file system). With CI's two lanes (two files of the tier and
// two install shapes at once, each its own run and so its own check here), /dev/shm held 10.1 GB at the most and the
// available memory fell to 6.0 GB of 23: hence twice a run's peak free before a run works there.
const ROOMY_FOR_OPENCLAW = 16 * 2 ** 30;
process.env.RS_OPENCLAW_TMP ??= openclawRoom() ? process.env.RS_MEMORY_TMP : process.env.RS_RUN_TMP;
/** Whether the in-memory folder's file system and the machine's available memory both hold ROOMY_FOR_OPENCLAW. */
function openclawRoom(): boolean {
  const memory = process.env.RS_MEMORY_TMP!;
  if (memory === process.env.RS_RUN_TMP) return false; // no tmpfs here
  const available = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  const free = statfsSync(memory);
  return Number(available?.[1] ?? 0) * 1024 >= ROOMY_FOR_OPENCLAW && free.bavail * free.bsize >= ROOMY_FOR_OPENCLAW;
}
function memoryTmp(): string | undefined {
  try {
    return mkdtempSync('/dev/shm/rs-run-memory-');
  } catch {
    return undefined; // no /dev/shm here, or not ours to write
  }
}

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest's default is one worker less than the cores: a single file at a time on a 2-core machine.
    // Most of this suite waits (a unit's restart, a stability window, a health probe) rather than
    // computes, so two files at a time there; the whole suite passed so at a load average of 10. `RS_MAX_WORKERS`
    // sets another number for a pass (.ci/run: its Node 26 pass, which ends CI, mostly alone). Vitest's own `--maxWorkers`
    // does not reach the projects below, which take this value as their own (`extends: true`).
    maxWorkers: Number(process.env.RS_MAX_WORKERS) || Math.max(2, availableParallelism()),
    globalSetup: ['test/run-tmp.ts'],
    // Longest files first, by the measured times committed in test/durations.json (`npm run test:durations` refreshes
    // it): CI runs from a fresh clone, where vitest has no cache of earlier runs and would start files by their size,
    // so a tier's longest file could start last and run alone. Sharding and the order of projects stay vitest's.
    sequence: { sequencer: DurationSequencer },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: HEAVY,
          // In-process files, most of whose time a fresh process and a fresh import of the library per file took:
          // here they share their worker and its modules, test/unit-setup.ts putting back what a file changed of the
          // process (its environment, umask, working folder) and registering each file's clean-up.
          isolate: false,
          setupFiles: ['test/unit-setup.ts'],
          env: { TMPDIR: process.env.RS_MEMORY_TMP },
          // Type tests (`*.test-d.ts`: the public API's types) run through tsc with the unit tier, once per CI run: tsc
          // judges the declarations, not the Node that runs it, so CI's Node 26 pass (RS_NODE_PASS=newest) leaves them
          // to its Node 20 pass.
          typecheck: {
            enabled: !NEWEST_NODE_PASS,
            include: ['test/**/*.test-d.ts'],
            tsconfig: 'tsconfig.typecheck.json',
          },
        },
      },
      // The registry and system projects share one seeded Verdaccio (test/global-setup.ts); either runs alone too.
      {
        extends: true,
        test: {
          name: 'registry',
          include: NEWEST_NODE_PASS ? newestOf('registry') : [`test/**/*${TIER_SUFFIX.registry}`],
          globalSetup: ['test/global-setup.ts'],
          env: { TMPDIR: process.env.RS_MEMORY_TMP },
        },
      },
      {
        extends: true,
        test: {
          name: 'system',
          include: NEWEST_NODE_PASS ? newestOf('system') : [`test/**/*${TIER_SUFFIX.system}`],
          globalSetup: ['test/global-setup.ts'],
          env: { TMPDIR: process.env.RS_MEMORY_TMP },
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
          // Still two (the suite's maxWorkers): by test/durations.json three would bound today's tier by 2,455 s against
          // 3,589 s, but that is not measured beside CI's two other passes on 2 cores, where a gateway's cold start is
          // CPU; change it with a measured run (docs/testing.md, "The order files start in").
          fileParallelism: true,
          env: { TMPDIR: process.env.RS_OPENCLAW_TMP },
          testTimeout: 900_000,
          hookTimeout: 1_800_000,
        },
      },
    ],
  },
});
