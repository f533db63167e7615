// OpenClaw's finalize done ahead, on the real gateway (openclaw 2026.9.5 → 2026.9.6 from the registry, Node 24, its own
// unit adopted under a private systemd --user, @openclaw/matrix installed on 9.5 the way users install it; the CLI,
// the gateway and openclaw's CLI as the suite's normal account):
// - a 9.6 repacked so that its finalize fails is refused before the stop: FINALIZE_FAILED, the same gateway process,
//   `current` unchanged, no copy left in the state;
// - kill -9 of the runner while finalize runs ahead: `recover` ends it, undoes the transaction (before the flip), and
//   removes the copy; the gateway is the same process;
// - kill -9 of the runner in the middle of the swap (a live entry moved aside, the finalized one not yet in): `recover`
//   goes back to 9.5 with the checkpoint put back (the state the old release left), nothing of ours left;
// - a file of the state written while finalize runs ahead (between the copy and the stop): finalize runs in the
//   window for it, named in the record with that path, and the write is kept;
// - an update whose finalize was done ahead: the window holds no finalize (a rename of the write set), the record
//   says what was put in place and which tables of the live database were carried over, matrix is converged to 9.6,
//   and the write set is the one docs/openclaw.md "What finalize writes" documents (this fails when a new OpenClaw
//   writes elsewhere); its rehearsal is 9.6's first start ahead, on the finalized copy itself, seen at the live path in
//   a namespace of its own (its mount read from its /proc, its database read inside its namespaces: finalize's new table
//   there, none in the live folder at the same moment), held as long as a rehearsal, and no second candidate is
//   started; a cron job the serving 9.5 adds while finalize runs ahead
//   (a row of `cron_jobs`, which 9.6's migration gives three more columns) is taken across and listed by 9.6.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import ignore from 'ignore';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { asAccount, defaultTestAccount } from '../support/accounts.ts';
import { CLI, accountCliEnv, cli, cliEnv, runnableBy } from '../support/cli.ts';
import {
  OPENCLAW_UNIT as UNIT,
  REMOVE_TIMEOUT_MS,
  SHORT_WINDOWS,
  adoptRunningGateway,
  finalizeProcesses,
  finalizeTops,
  giveTo,
  openclawBench,
  openclawCliEnv,
  openclawHealthy,
  openclawWork,
  outsideWatch,
  removeOpenclawBench,
  rootOpenclaw,
  writeOpenclawService,
  openclawTmp,
} from '../support/openclaw.ts';
import { copyOpenclaw, ownOpenclawNpmCache } from '../support/openclaw-prepared.ts';
import { repackFinalizeFails } from '../support/openclaw-repack.ts';
import { freePort } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, type UserManager } from '../support/systemd.ts';

const FROM = '2026.9.5';
const TO = '2026.9.6';
const BROKEN = '2026.9.6-finalize-fails';
const PLUGIN = '@openclaw/matrix';
const PLUGIN_ID = 'matrix';
/**
 * What 9.6's finalize and its first start after it may write in 9.5's state (docs/openclaw.md "What finalize writes",
 * "The first start, ahead"), relative to the state folder, in gitignore's syntax; and the tables of its shared database
 * they may change.
 */
const DOCUMENTED_WRITES = [
  '/openclaw.json',
  '/openclaw.json.bak*',
  '/openclaw.json.pre-update',
  // The first start ahead promotes the finalized config to last-known-good once it has been healthy a while (seen at
  // a load of 9: its start took 33 s; at 2, it was stopped before)
  '/openclaw.json.last-good',
  // …and, held healthy as long as the rehearsal holds, its Control UI asset retention (generations of the Control UI's
  // assets by their hash, kept for browser tabs still open on an older one: `control-ui-asset-retention` in its dist)
  '/cache/control-ui-assets/',
  '/npm/projects/',
  '/plugin-skills/',
  '/state/openclaw.sqlite*',
  '/state/openclaw-quarantine.sqlite',
  '/agents/*/agent/openclaw-agent.sqlite*',
];
const DOCUMENTED_TABLES = [
  '#user_version',
  'config_machine_state',
  'config_health_entries',
  'cron_jobs',
  'diagnostic_events',
  'schema_meta',
  'migration_runs',
  'migration_sources',
  'update_runs',
  'agent_databases',
  // 9.6's matrix rewrites its `inbound-dedupe-migration-state` row (seen with cron on: the heartbeat loads it first)
  'plugin_state_entries',
  // The first start ahead (docs/openclaw.md "The first start, ahead"): its boot, its CLI device token's refresh, a
  // table it creates empty
  'gateway_boot_lifecycle',
  'device_auth_tokens',
  'worker_environment_session_attachments',
];

type StepJson = { name: string; status: string; ms?: number; detail?: string; evidence?: any };

describeWhere(canRunUserManager(), 'finalize done ahead (real openclaw, systemd --user)', () => {
  let um: UserManager;
  let port: number;
  let node: string;
  const account = defaultTestAccount();
  const work = openclawWork('rs-ocahead-', account);
  const root = path.join(work, 'root');
  let npmCache: string;
  const state = () => path.join(um.env.HOME!, '.openclaw');
  const env = () => openclawCliEnv(um, { npmCache, work });
  const rs = (args: string[], extra: Record<string, string> = {}) =>
    cli(['--root', root, '--json', ...args], { env: { ...env(), ...extra }, timeout: 1_500_000 });
  const { openclawCli, pluginSeen: seen } = rootOpenclaw(
    () => um.account,
    root,
    () => ({ ...env(), TMPDIR: openclawTmp(um) }), // the gateway's temporary folder, not /tmp (openclawTmp)
    900_000,
  );
  const pluginSeen = () => seen(PLUGIN_ID);
  const mainPid = async () => Number((await um.systemctl(['show', '-p', 'MainPID', '--value', UNIT])).stdout.trim());
  const current = () => path.basename(readlinkSync(path.join(root, 'current')));
  const step = (tx: any, name: string): StepJson | undefined =>
    (tx?.steps ?? []).find((s: StepJson) => s.name === name);
  /** Folders of ours in the state folder (a copy, an aside) and the root's records of a finalize ahead. */
  const leftovers = () => [
    ...readdirSync(state()).filter((name) => name.startsWith('.release-switcher-')),
    ...(existsSync(path.join(root, 'preflight')) ? readdirSync(path.join(root, 'preflight')) : []).filter((name) =>
      name.startsWith('ahead-'),
    ),
  ];
  const plant = async (rel: string, text: string) => {
    const file = path.join(state(), rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text, { mode: 0o600 });
    await giveTo(um.account, path.dirname(file));
  };
  /** The runner as the account runs it (setpriv execs it: the pid killed is the CLI's own). */
  const runner = (args: string[]) => {
    const who = um.account;
    const argv = ['--root', root, '--json', ...args];
    const [command, commandArgs] = who
      ? asAccount(who, runnableBy(who).node, [runnableBy(who).cli, ...argv])
      : [process.execPath, [CLI, ...argv]];
    return execa(command, commandArgs, {
      env: who ? accountCliEnv(who, env()) : cliEnv(env()),
      extendEnv: false,
      reject: false,
    });
  };
  /**
   * What of finalize's work a SQLite database shows: whether it has the `update_runs` table (9.6's finalize creates it;
   * 9.5's database has none) and `schema_meta`'s `primary` version (17 → 18). Read with the service's Node 24 as the
   * account: a reader of a WAL database may create its `-shm`, which must then be the account's, as the service's own are.
   */
  const finalizedMarks = (file: string, inNamespaceOf?: string): { updateRuns: number; primary: number | null } => {
    const read = [
      '-e',
      `const { DatabaseSync } = require('node:sqlite'); const d = new DatabaseSync(process.argv[1], { readOnly: true });
const updateRuns = d.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'update_runs'").get().n;
let primary = null; try { primary = d.prepare("SELECT schema_version AS v FROM schema_meta WHERE meta_key = 'primary'").get()?.v ?? null; } catch {}
console.log(JSON.stringify({ updateRuns: Number(updateRuns), primary: primary === null ? null : Number(primary) }));`,
      file,
    ];
    // Inside a process's namespaces: entered (nsenter), not reached through /proc/<pid>/root, a link SQLite resolves
    // (it would open the database of this namespace's path instead: measured).
    const ids = [String(um.account?.uid ?? 0), String(um.account?.gid ?? 0)];
    const [command, args]: [string, string[]] = inNamespaceOf
      ? ['nsenter', ['-t', inNamespaceOf, '-U', '-m', '-S', ids[0]!, '-G', ids[1]!, '--', node, ...read]]
      : um.account
        ? asAccount(um.account, node, read)
        : [node, read];
    return JSON.parse(execFileSync(command, args, { encoding: 'utf8' }).trim());
  };
  /**
   * OpenClaw's own records of its starts in the shared database, read as the account: each boot (its PID, start and
   * end in ms, outcome), each migration run's start, and the startup-migration stamp (`schema_meta`).
   */
  const startupRecords = (
    file: string,
  ): {
    boots: Array<{ pid: number; startedAt: number; completedAt: number | null; outcome: string | null }>;
    runs: Array<{ id: string; startedAt: number }>;
    stamp: string;
  } => {
    const read = [
      '-e',
      `const { DatabaseSync } = require('node:sqlite'); const d = new DatabaseSync(process.argv[1], { readOnly: true });
const boots = d.prepare('SELECT pid, started_at_ms AS startedAt, completed_at_ms AS completedAt, outcome FROM gateway_boot_lifecycle').all();
const runs = d.prepare('SELECT id, started_at AS startedAt FROM migration_runs').all();
const stamp = d.prepare("SELECT app_version AS v FROM schema_meta WHERE meta_key = 'startup-migrations'").get()?.v ?? '';
console.log(JSON.stringify({ boots: boots.map((b) => ({ ...b })), runs: runs.map((r) => ({ ...r })), stamp }));`,
      file,
    ];
    const [command, args]: [string, string[]] = um.account ? asAccount(um.account, node, read) : [node, read];
    return JSON.parse(execFileSync(command, args, { encoding: 'utf8' }).trim());
  };
  /**
   * Each candidate started while the update runs: a rehearsal's (its marker in its environment), or the first start
   * ahead (finalize's marker, a `gateway` command line). For the first seen of each: the folder mounted at the live
   * state's path in its namespace, and what the shared database there and in the live folder shows of finalize, read
   * at that moment.
   */
  const watchRehearsal = () => {
    let stopped = false;
    const rehearsals = new Set<string>();
    let seen:
      | { mountedFrom: string; inside: ReturnType<typeof finalizedMarks>; outside: ReturnType<typeof finalizedMarks> }
      | undefined;
    const live = state();
    const db = (dir: string) => path.join(dir, 'state', 'openclaw.sqlite');
    /**
     * A process of this file's gateway: its state dir the live one (a rehearsal seen at the live path) or under this
     * file's work folder (a copy). The openclaw tier runs files side by side, and other files' rehearsals carry the
     * marker too: CI once counted 17 of them here.
     */
    const ofThisFile = (environ: string) =>
      environ
        .split('\0')
        .some(
          (entry) =>
            entry === `OPENCLAW_STATE_DIR=${live}` || entry.startsWith(`OPENCLAW_STATE_DIR=${work}${path.sep}`),
        );
    /** Every rehearsal's process of this file noted; the first start ahead's marks read once, when first seen. */
    const look = () => {
      for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
        try {
          const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
          if (environ.includes('RELEASE_SWITCHER_PREFLIGHT=') && ofThisFile(environ)) rehearsals.add(pid);
          if (seen || !environ.includes('RELEASE_SWITCHER_FINALIZE=')) continue;
          // The preset's first start: `<node> …/dist/index.js gateway --port N --bind loopback …` (not finalize itself,
          // nor a process finalize starts).
          const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
          const entry = argv.findIndex((arg) => arg.endsWith(`${path.sep}dist${path.sep}index.js`));
          if (entry < 0 || argv[entry + 1] !== 'gateway' || !argv.includes('--bind')) continue;
          // mountinfo: id parent major:minor root mount-point …; the bind mount's root is the folder it shows.
          const mount = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
            .split('\n')
            .map((line) => line.split(' '))
            .find((fields) => fields[4] === live);
          if (!mount) continue; // not in its namespace yet
          seen = {
            mountedFrom: mount[3]!,
            inside: finalizedMarks(db(live), pid),
            outside: finalizedMarks(db(live)),
          };
        } catch {
          // a process that ended meanwhile, or a database being opened: the next look
        }
      }
    };
    const loop = (async () => {
      while (!stopped) {
        look();
        // Polling for the candidates' processes, not a timed wait; once the first start was seen, only for a
        // rehearsal's, which holds at least 5 s.
        await new Promise((r) => setTimeout(r, seen ? 500 : 100));
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
        return { firstStart: seen, rehearsals: [...rehearsals] };
      },
    };
  };
  /** Each case below begins with 9.5 serving: a case before it that failed on 9.6 is rolled back first. */
  const fromServing = async () => {
    if (current() === FROM) return;
    const back = await rs(['rollback']);
    expect(back.json?.result?.status, back.stdout.slice(-3000) + back.stderr).toBe('verified');
  };
  /** Until finalize runs on the copy (a process with the marker, of this file's state), or the runner ended. */
  const finalizeAheadRunning = async (run: ReturnType<typeof runner>): Promise<number[]> => {
    const deadline = Date.now() + 900_000;
    for (;;) {
      const found = finalizeProcesses(state());
      if (found.length > 0) return found;
      if (Date.now() > deadline || run.exitCode !== null) throw new Error('finalize never started ahead');
      await new Promise((r) => setTimeout(r, 200)); // polling for the process, not a timed wait
    }
  };

  beforeAll(async () => {
    console.log(`load average at start: ${loadavg()[0]!.toFixed(1)}`);
    if (!process.env.OPENCLAW_PREFIX) {
      process.env.OPENCLAW_PREFIX = path.join(work, 'prefix');
      await copyOpenclaw(FROM, process.env.OPENCLAW_PREFIX, { link: true });
    }
    npmCache = await ownOpenclawNpmCache(work, account); // after the prefix: its install is what fills the cache
    const bench = await openclawBench({ name: 'ocahead', work, version: FROM, account });
    ({ node, um } = bench);
    port = await freePort();
    await writeOpenclawService(um, {
      node,
      prefix: bench.prefix,
      port,
      ownStateDir: true,
      environment: { npm_config_cache: npmCache },
      // No cron: 9.5's heartbeat job writes `cron_jobs` and creates the agent's database while it serves, and 9.6's
      // migration changes `cron_jobs`' schema, which sends finalize into the window (measured; the case of a live
      // change is the fourth below, with a file of its own). The cases here need a gateway whose writes between the
      // copy and the stop are its own stop's and the handoff's.
      config: 'cron: { enabled: false },',
    });
    await adoptRunningGateway(um, {
      rs,
      node,
      prefix: bench.prefix,
      port,
      version: FROM,
      init: SHORT_WINDOWS,
      alongsideRestart: async () => {
        const installed = await rs(['install', `openclaw@${TO}`]);
        expect(installed.exitCode, installed.stdout.slice(-2000) + installed.stderr.slice(-2000)).toBe(0);
      },
    });
    const plugin = await openclawCli(['plugins', 'install', PLUGIN]);
    expect(plugin.exitCode, plugin.stdout.slice(-2000) + plugin.stderr.slice(-2000)).toBe(0);
    expect(await pluginSeen()).toEqual({ version: FROM, status: 'loaded' });
    // 9.6 repacked so that its finalize exits 1 with a `failed` verdict (as finalize.openclaw.test.ts's).
    const pkg = repackFinalizeFails({
      from: path.join(root, 'releases', TO),
      into: path.join(work, 'repack', 'lib', 'node_modules', 'openclaw'),
      version: BROKEN,
    });
    const adopted = await rs(['init', '--adopt', pkg]);
    expect(adopted.exitCode, adopted.stdout + adopted.stderr).toBe(0);
    await plant('credentials/rs-era.json', '{"era":"9.5"}\n');
  }, 2_400_000);

  afterAll(async () => {
    await removeOpenclawBench(um, work);
  }, REMOVE_TIMEOUT_MS);

  it(`a finalize that fails ahead refuses the update before the stop (${BROKEN})`, async () => {
    const pid = await mainPid();
    const refused = await rs(['switch', BROKEN, '--no-preflight']);
    console.log(`switch ${BROKEN} (exit ${refused.exitCode}, load ${loadavg()[0]!.toFixed(1)}):\n${refused.stdout}`);
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(1);
    const envelope = JSON.parse(refused.stdout);
    expect(envelope.error).toMatchObject({ code: 'FINALIZE_FAILED' });
    expect(envelope.error.message).toContain('Nothing was flipped or stopped');
    expect(step(envelope.result, 'finalize-ahead')).toMatchObject({
      status: 'failed',
      evidence: { verdict: { ok: false, status: 'failed', exitCode: 1 } },
    });
    expect(step(envelope.result, 'flip')).toBeUndefined();
    expect(envelope.result.window).toBeUndefined(); // never stopped: 0 s down
    // Its own failure, as a failed rehearsal's: bad, so an auto-updater does not try it again at every tick.
    const releases = JSON.parse(readFileSync(path.join(root, 'state.json'), 'utf8')).releases;
    expect(releases[BROKEN]).toMatchObject({ state: 'bad' });
    expect(await mainPid()).toBe(pid);
    expect(current()).toBe(FROM);
    expect(leftovers()).toEqual([]);
  }, 1_200_000);

  it('kill -9 of the runner while finalize runs ahead: recover ends it, undoes the transaction, removes the copy', async () => {
    const pid = await mainPid();
    const run = runner(['switch', TO, '--no-preflight']);
    let orphans: number[];
    try {
      // The finalize's own processes (finalizeTops: its children come and go on their own), found before the kill.
      orphans = finalizeTops(await finalizeAheadRunning(run));
      expect(orphans).not.toEqual([]);
      // The copy, and the databases as copied beside it (the base of the window's row-by-row merge).
      const ours = readdirSync(state()).filter((n) => n.startsWith('.release-switcher-ready-'));
      expect(ours.filter((n) => !n.endsWith('-base'))).toHaveLength(1);
    } finally {
      run.kill('SIGKILL'); // whatever failed above: never a runner left holding the root's lock for the next case
    }
    expect((await run).signal).toBe('SIGKILL');
    expect(finalizeProcesses(state()), 'the finalize outlives the runner').toEqual(expect.arrayContaining(orphans));
    const recovered = await rs(['recover']);
    console.log(`recover (load ${loadavg()[0]!.toFixed(1)}): ${recovered.stdout.slice(-3000)}${recovered.stderr}`);
    expect(recovered.exitCode, recovered.stdout + recovered.stderr).toBe(0);
    expect(finalizeProcesses(state())).toEqual([]);
    const tx = (await rs(['status'])).json.result.transaction;
    expect(tx).toMatchObject({ status: 'failed', to: TO });
    expect(step(tx, 'flip')).toBeUndefined();
    expect(await mainPid()).toBe(pid);
    expect(current()).toBe(FROM);
    expect(leftovers()).toEqual([]);
  }, 1_500_000);

  it('kill -9 of the runner in the swap: recover goes back to 9.5 on the state it left', async () => {
    await fromServing();
    const killed = await rs(['switch', TO, '--no-preflight'], { RELEASE_SWITCHER_CRASH_AT: 'ahead:swap-between' });
    expect(killed.signal, `ahead:swap-between was never reached: ${killed.stdout.slice(-3000)}${killed.stderr}`).toBe(
      'SIGKILL',
    );
    const recovered = await rs(['recover']);
    console.log(`recover (load ${loadavg()[0]!.toFixed(1)}): ${recovered.stdout.slice(-3000)}${recovered.stderr}`);
    expect(recovered.exitCode, recovered.stdout + recovered.stderr).toBe(0);
    const tx = (await rs(['status'])).json.result.transaction;
    expect(tx).toMatchObject({ status: 'rolled_back', reason: 'finalize_interrupted', to: TO });
    expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 300_000 })).version).toBe(FROM);
    expect(current()).toBe(FROM);
    expect(readFileSync(path.join(state(), 'credentials', 'rs-era.json'), 'utf8')).toBe('{"era":"9.5"}\n');
    expect(await pluginSeen()).toEqual({ version: FROM, status: 'loaded' });
    expect(leftovers()).toEqual([]);
  }, 1_500_000);

  it('a file of the state written between the copy and the stop: finalize runs in the window for it, the write kept', async () => {
    await fromServing();
    const run = runner(['switch', TO, '--no-preflight']);
    try {
      await finalizeAheadRunning(run);
      await plant('credentials/rs-live-change.json', '{"written":"while finalize ran ahead"}\n');
    } catch (error) {
      run.kill('SIGKILL'); // never a runner left holding the root's lock for the next case
      throw error;
    }
    const done = await run;
    const tx = JSON.parse(done.stdout).result;
    console.log(
      `switch with a live change (load ${loadavg()[0]!.toFixed(1)}): ${JSON.stringify(step(tx, 'finalize'))}`,
    );
    expect(tx?.status, done.stdout.slice(-3000) + done.stderr).toBe('verified');
    expect(step(tx, 'finalize-ahead')).toMatchObject({ status: 'ok' });
    const finalize = step(tx, 'finalize')!;
    expect(finalize).toMatchObject({ status: 'ok', evidence: { ahead: { swapped: false }, verdict: { ok: true } } });
    expect(finalize.evidence.ahead.forcedBy).toContain('credentials/rs-live-change.json (finalize may read it)');
    expect(finalize.detail).toContain('run in the window, not ahead: the live state changed');
    expect(readFileSync(path.join(state(), 'credentials', 'rs-live-change.json'), 'utf8')).toContain('ahead');
    expect(await pluginSeen()).toEqual({ version: TO, status: 'loaded' });
    expect(leftovers()).toEqual([]);
    const back = await rs(['rollback']);
    expect(back.json?.result?.status, back.stdout.slice(-3000) + back.stderr).toBe('verified');
    expect(current()).toBe(FROM);
  }, 2_400_000);

  it("an update with finalize done ahead: no finalize in the window, matrix converged, the write set documented; its rehearsal on the finalized copy; a cron job the serving 9.5 adds meanwhile taken across 9.6's migration of cron_jobs", async () => {
    await fromServing();
    const watch = outsideWatch(port);
    const rehearsal = watchRehearsal();
    const run = runner(['switch', TO]);
    try {
      await finalizeAheadRunning(run);
      // Through the serving gateway (9.5's CLI, its RPC): a row of `cron_jobs` in 9.5's shape, after the copy was made.
      const added = await openclawCli([
        'cron',
        'add',
        'rs-during-finalize',
        '--every',
        '1h',
        '--message',
        'hello',
        '--disabled',
      ]);
      expect(added.exitCode, String(added.stdout).slice(-1500) + String(added.stderr).slice(-1500)).toBe(0);
    } catch (error) {
      run.kill('SIGKILL'); // never a runner left holding the root's lock
      throw error;
    }
    const done = await run;
    const seen = await watch.stop();
    const { firstStart: candidate, rehearsals } = await rehearsal.stop();
    const tx = JSON.parse(done.stdout).result;
    console.log(`switch with finalize ahead (load ${loadavg()[0]!.toFixed(1)}):\n${JSON.stringify(tx, null, 2)}`);
    expect(tx?.status, done.stdout.slice(-3000) + done.stderr).toBe('verified');
    const ahead = step(tx, 'finalize-ahead')!;
    expect(ahead).toMatchObject({ status: 'ok', evidence: { verdict: { ok: true } } });
    const finalize = step(tx, 'finalize')!;
    expect(finalize).toMatchObject({ status: 'ok', evidence: { ahead: { swapped: true } } });
    expect(finalize.detail).toContain('done ahead, on a copy');
    // The cron job's row, in 9.5's shape, taken across 9.6's migration of the table (its added columns left empty).
    const merged = finalize.evidence.ahead.merged['state/openclaw.sqlite'];
    expect(merged.migrated).toContain('cron_jobs');
    expect(merged.carried.cron_jobs).toBeGreaterThanOrEqual(1);
    // The rehearsal is recorded after finalize ahead: 9.6's first start there, on the finalized copy at the live path,
    // held as long as the rehearsal holds (this root's --preflight-for); no second candidate was started.
    const names = tx.steps.map((s: StepJson) => s.name);
    expect(names.indexOf('finalize-ahead')).toBeLessThan(names.indexOf('preflight'));
    const rehearsed = step(tx, 'preflight')!;
    const heldMs = Number(SHORT_WINDOWS[SHORT_WINDOWS.indexOf('--preflight-for') + 1]) * 1000;
    expect(heldMs).toBeGreaterThan(0);
    expect(rehearsed).toMatchObject({
      status: 'ok',
      evidence: { by: 'first-start-ahead', firstStart: { ok: true, heldMs } },
    });
    expect(ahead.evidence.firstStart).toMatchObject({ ok: true, heldMs });
    expect(rehearsals, 'a rehearsal candidate started beside the first start ahead').toEqual([]);
    expect(candidate, 'the first start ahead was never seen with a folder mounted at the live path').toBeDefined();
    expect(candidate!.mountedFrom).toContain(`${path.sep}.release-switcher-ready-ahead-`); // the finalized copy
    console.log(`the first start ahead, the rehearsal: ${JSON.stringify(candidate)}`);
    // Finalize's result there (its new table, its schema), the live folder still 9.5's at that moment…
    expect(candidate!.inside.updateRuns).toBe(1);
    expect(candidate!.outside.updateRuns).toBe(0);
    // …and what the state has now that the finalized copy was put in place.
    expect(candidate!.inside).toEqual(finalizedMarks(path.join(state(), 'state', 'openclaw.sqlite')));
    // What was put in place is what finalize wrote on the copy, and that is what docs/openclaw.md documents.
    const writes: string[] = ahead.evidence.writes;
    // (a folder's entry as renamed: without its trailing `/`)
    expect(finalize.evidence.ahead.entries).toEqual(expect.arrayContaining(writes.map((w) => w.replace(/\/$/, ''))));
    const documented = ignore().add(DOCUMENTED_WRITES);
    expect(writes.filter((rel) => !documented.ignores(rel))).toEqual([]);
    expect(writes).toContain('openclaw.json');
    expect(writes).toContain('state/openclaw.sqlite');
    expect(writes.some((rel) => /^npm\/projects\/openclaw-matrix-[^/]+__openclaw-generation__/.test(rel))).toBe(true);
    const tables: string[] = ahead.evidence.tables['state/openclaw.sqlite'];
    expect(tables.filter((t) => !DOCUMENTED_TABLES.includes(t))).toEqual([]);
    expect(tables).toEqual(expect.arrayContaining(['#user_version', 'update_runs', 'cron_jobs']));
    // The window holds the rename, not finalize: its finalize part is a fraction of what finalize took on the copy.
    const parts = Object.fromEntries(tx.window.parts.map((p: { part: string; ms: number }) => [p.part, p.ms]));
    console.log(
      `window ${tx.window.totalMs} ms (${JSON.stringify(parts)}); outside ${Math.round(seen.unavailableMs)} ms; finalize ahead ${ahead.evidence.verdict.ms} ms`,
    );
    expect(parts.finalize).toBeLessThan(ahead.evidence.verdict.ms / 4);
    // 9.6's first start was made on the copy, after finalize: its startup migrations ran there, inside that start's
    // boot, and the real start in the window ran none (every migration run began before it did).
    expect(ahead.evidence.firstStart, JSON.stringify(ahead.evidence)).toMatchObject({ ok: true });
    const records = startupRecords(path.join(state(), 'state', 'openclaw.sqlite'));
    console.log(`boots and migration runs after the update: ${JSON.stringify(records)}`);
    const serving = await mainPid();
    const real = records.boots.find((b) => b.pid === serving);
    expect(real, 'the serving 9.6 has its boot record').toBeDefined();
    expect(records.runs.filter((r) => r.startedAt >= real!.startedAt)).toEqual([]);
    const aheadBoot = records.boots.find(
      (b) =>
        b.pid !== real!.pid &&
        records.runs.some((r) => r.startedAt >= b.startedAt && r.startedAt <= (b.completedAt ?? 0)),
    );
    expect(aheadBoot, 'a migration run inside the first start ahead').toMatchObject({ outcome: 'clean_stop' });
    expect(records.stamp.split('\n')[0]).toBe(TO);
    expect(await pluginSeen()).toEqual({ version: TO, status: 'loaded' });
    // OpenClaw's own ledger has the run finalize made on the copy (its database went in with it).
    const ownStatus = await openclawCli(['update', 'status', '--json']);
    expect(ownStatus.exitCode, ownStatus.stderr.slice(-2000)).toBe(0);
    expect(ownStatus.stdout).toContain('"step": "finalize:doctor"');
    expect(readFileSync(path.join(state(), 'credentials', 'rs-era.json'), 'utf8')).toBe('{"era":"9.5"}\n');
    // 9.6 serves on the finalized database with the job in it.
    const listed = await openclawCli(['cron', 'list', '--all', '--json']);
    expect(String(listed.stdout), String(listed.stderr).slice(-1500)).toContain('rs-during-finalize');
    expect(leftovers()).toEqual([]);
    // And back from the state put in place by rename and merge, as from any other.
    const back = await rs(['rollback']);
    expect(back.json?.result?.status, back.stdout.slice(-3000) + back.stderr).toBe('verified');
    expect(current()).toBe(FROM);
  }, 2_400_000);
});
