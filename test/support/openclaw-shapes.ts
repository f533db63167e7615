// One install shape of the real openclaw, end to end (issue 33): a private systemd --user of the suite's normal account,
// the gateway on the service Node (24, or RS_SERVICE_NODE's), its port only in openclaw.json, run by a unit whose
// ExecStart is the command the shape gives users (pnpm's shim, install-cli.sh's wrapper). `shapeLifecycle` then does
// what every shape must survive: adopt, `unit --install` + a restart onto current, @openclaw/matrix installed, an
// update to 9.6, the rollback, `doctor --deep`, and `--link-bin`/`--unlink-bin` over the shape's command.
import { mkdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect } from 'vitest';
import { ensureServiceNode } from '../../bench/lib/node24.mjs';
import { type Account, asAccount, defaultTestAccount, nodeFor } from './accounts.ts';
import { type CliResult, accountCliEnv, accountCwd, cli, cliEnv } from './cli.ts';
import {
  OPENCLAW_UNIT,
  REMOVE_TIMEOUT_MS,
  SHORT_WINDOWS,
  giveTo,
  openclawHealthy,
  openclawCompileCache,
  openclawTmp,
  openclawManager,
  openclawWork,
  removeOpenclawBench,
} from './openclaw.ts';
import { ownOpenclawNpmCache } from './openclaw-prepared.ts';
import { freePort } from './service.ts';
import type { Where } from './skip.ts';
import { canRunUserManager, type UserManager } from './systemd.ts';
import type { CommandResult } from './systemd-handle.ts';

export const FROM = '2026.9.5';
export const TO = '2026.9.6';
const PLUGIN = '@openclaw/matrix';
const PLUGIN_ID = 'matrix';

/**
 * A shape's call of our CLI (an update: staging, finalize ahead, the window, verification) and its whole case. In CI's
 * Node 26 pass at a load of 9-10, two shapes' updates beside the real-gateway tier passed 1,200 s, where one took 400 s
 * at a load of 4-6: the bound says when a stuck call is a failure, not how long a loaded machine may take.
 */
export const SHAPE_CALL_MS = 1_800_000;
export const SHAPE_CASE_MS = 3_600_000;

/**
 * Where the install-shape files run: where their manager does (a private systemd --user, unless `needs` says what the
 * file needs instead), and not in a pass that leaves them to another (`RS_SKIP_INSTALL_SHAPES`: CI's Node 24 pass,
 * which leaves them to its Node 26 pass, .ci/run).
 */
export function shapesRunHere(needs: Where = canRunUserManager()): Where {
  if (!needs.ok) return needs;
  return {
    ok: !process.env.RS_SKIP_INSTALL_SHAPES,
    why: "RS_SKIP_INSTALL_SHAPES is set (CI's Node 24 pass)",
    where: "in CI's Node 26 pass (.ci/run), and in any run without RS_SKIP_INSTALL_SHAPES",
  };
}

/** The gateway's unit as the lifecycle drives it, under whichever manager (a user manager, a system manager). */
export interface ShapeService {
  /** The unit's name (`openclaw-gateway.service`, the role's `openclaw.service`). */
  unit: string;
  /** `systemctl ARGS` against its manager, as the CLI sees it; never rejects on a non-zero exit. */
  systemctl(args: string[], opts?: { timeoutMs?: number }): Promise<CommandResult>;
  /** The unit's main process as a host PID (0: none), for what the test reads in /proc. */
  hostPid(): Promise<number>;
  readLog(): Promise<string>;
}

/** What shapeLifecycle drives: the root, the gateway's unit and port, our CLI and the account's commands. */
export interface LifecycleBench {
  root: string;
  port: number;
  service: ShapeService;
  /** Our CLI on the root (`--root`, `--json`), as the shape's operator runs it. */
  rs(args: string[]): Promise<CliResult>;
  /** A command as the account runs it, with the service's environment (not the worker's: VITEST silences openclaw). */
  asUser(command: string, args: string[], extra?: Record<string, string>): Promise<CommandResult>;
  /** Where the test process finds a file the service and the CLI name (a namespace's private home). @default as named */
  seen?: (file: string) => string;
  /** The gateway's state dir (OPENCLAW_STATE_DIR), as the service names it. */
  state: string;
}

export interface ShapeBench extends LifecycleBench {
  account: Account | undefined;
  work: string;
  um: UserManager;
  /** The service Node, as the account can run it. */
  node: string;
  env(): Record<string, string>;
}

/**
 * A test file's bench: made before its tests (`prepare` installs the shape and starts its gateway), removed after them.
 * Returns the bench, for the tests to take once it is made.
 */
export function shapeBench(name: string, prepare: (bench: ShapeBench) => Promise<void>): () => ShapeBench {
  let bench: ShapeBench | undefined;
  beforeAll(async () => {
    bench = await startShapeBench(name);
    await prepare(bench);
  }, 1_800_000);
  afterAll(() => removeOpenclawBench(bench?.um, bench?.work), REMOVE_TIMEOUT_MS);
  return () => bench!;
}

/** The account's manager, the service Node, a free port written to the user's openclaw.json, an npm cache. */
async function startShapeBench(name: string): Promise<ShapeBench> {
  console.log(`load average at start: ${loadavg()[0]!.toFixed(1)}`);
  const account = defaultTestAccount();
  const work = openclawWork(`rs-oc${name}-`, account);
  // The tier's warm cache (in CI filled by the Node 24 pass, which runs beside from the same checkout).
  const npmCache = await ownOpenclawNpmCache(work, account);
  const node = nodeFor(account, process.env.BENCH_NODE24 ?? (await ensureServiceNode()).node);
  const um = await openclawManager(`oc${name}`, account);
  const state = path.join(um.env.HOME!, '.openclaw');
  const port = await freePort();
  const env = () => ({
    ...(um.env as Record<string, string>),
    OPENCLAW_STATE_DIR: state,
    npm_config_cache: npmCache,
    npm_config_logs_dir: path.join(work, 'npm-logs'),
    ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
  });
  const root = path.join(work, 'root');
  const mainPid = async () =>
    Number((await um.systemctl(['show', '-p', 'MainPID', '--value', OPENCLAW_UNIT])).stdout.trim());
  return {
    account,
    work,
    root,
    um,
    // The user manager shares the host's PID namespace: its MainPID is the host's.
    service: { unit: OPENCLAW_UNIT, systemctl: um.systemctl, hostPid: mainPid, readLog: () => um.readLog() },
    node,
    port,
    state,
    env,
    rs: (args) => cli(['--root', root, '--json', ...args], { env: env(), timeout: SHAPE_CALL_MS }),
    asUser: async (command, args, extra = {}) => {
      const [file, argv] = um.account ? asAccount(um.account, command, args) : [command, args];
      // The service's compiled code and temporary folder (its unit's, startShapeGateway), for the account's own
      // commands only.
      const withCache = () => ({
        NODE_COMPILE_CACHE: openclawCompileCache(um.account),
        TMPDIR: openclawTmp(um),
        ...env(),
        ...extra,
      });
      const r = await execa(file, argv, {
        env: um.account ? accountCliEnv(um.account, withCache()) : cliEnv(withCache()),
        // A folder of the account's, as a login starts in its home: not the test process's (a checkout the account
        // may not list; pnpm scans its working folder and fails with EACCES there).
        cwd: um.account ? accountCwd(um.account) : undefined,
        extendEnv: false,
        reject: false,
        timeout: 900_000,
      });
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
  };
}

/**
 * A shape's `openclaw.json`: the port (nowhere else), and no cron. With cron on, 9.5's heartbeat job creates the agent's
 * database a few minutes after a first start (seen in CI: during the update, between finalize's copy and the stop), and
 * a database finalize would have migrated sends finalize into the window: 348 s of a shape's 563 s outage at a load of
 * 9, the install shapes being the last files of their CI pass. The live change that sends finalize into the window is
 * `finalize-ahead.openclaw.test.ts`'s own case; a shape's subject is its layout, whose update then does what a gateway
 * that has served a while does: finalize done ahead, put in place by rename.
 */
export const shapeConfig = (port: number): string =>
  `{\n  gateway: { mode: 'local', port: ${port}, bind: 'loopback' },\n  cron: { enabled: false },\n}\n`;

/**
 * The user's config (shapeConfig) and the gateway's unit running `execStart gateway`, started and healthy on
 * FROM. `path`: the unit's PATH (pnpm's shim finds `node` there).
 */
export async function startShapeGateway(
  bench: ShapeBench,
  options: { execStart: string; path: string },
): Promise<void> {
  const { um, state, port } = bench;
  mkdirSync(state, { recursive: true });
  writeFileSync(path.join(state, 'openclaw.json'), shapeConfig(port));
  await giveTo(um.account, state);
  await um.writeUnit(
    OPENCLAW_UNIT,
    [
      '[Unit]',
      'Description=OpenClaw Gateway',
      '[Service]',
      `ExecStart=${options.execStart} gateway`,
      'Restart=always',
      'RestartSec=5',
      'TimeoutStopSec=330',
      'KillMode=mixed',
      `Environment=HOME=${um.account?.home ?? um.env.HOME}`,
      `Environment=PATH=${options.path}`,
      `Environment=OPENCLAW_STATE_DIR=${state}`,
      // As OpenClaw's docs advise for a small host (openclaw.ts, openclawCompileCache).
      `Environment=NODE_COMPILE_CACHE=${openclawCompileCache(um.account)}`,
      // Its plugin captures in a folder of its own, not the machine's /tmp (openclaw.ts, openclawTmp).
      `Environment=TMPDIR=${openclawTmp(um)}`,
      // As openclaw's own `gateway install` writes it: the gateway's npm (plugins) trusts the machine's CA.
      ...(process.env.NODE_EXTRA_CA_CERTS
        ? [`Environment=NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}`]
        : []),
      '[Install]',
      'WantedBy=default.target',
      '',
    ].join('\n'),
  );
  expect((await um.systemctl(['start', OPENCLAW_UNIT])).exitCode).toBe(0);
  expect((await openclawHealthy(bench.service, { port, pid: null, timeoutMs: 300_000 })).version).toBe(FROM);
}

type Json = any;

/**
 * adopt → unit --install + restart → plugin → update → rollback → doctor --deep → --link-bin/--unlink-bin over
 * `command`, with the assertions every shape shares; `adopted` checks what is particular to the shape. Returns the
 * results for more.
 */
export async function shapeLifecycle(
  bench: LifecycleBench,
  options: {
    /** What init --adopt is given (`$(pnpm root -g)/openclaw`, …). */
    installed: string;
    /** What init --unit is given. @default the service's unit */
    unit?: string;
    /** More flags for init (`--supervisor systemd-system`). @default none */
    initFlags?: string[];
    /** The command users type, found by adopt beside the install. */
    command: string;
    /** The command as the unit's ExecStart names it. @default `command` */
    unitCommand?: string;
    /** What that command is: a script (a wrapper, a shim) or a link (npm's). @default 'script' */
    kind?: 'script' | 'link';
    /** The file of current the unit must run (the one `command` runs). */
    entry: string;
    /** The Node the unit must run it with. */
    node: string;
    adopted: (adopted: Json, config: Json) => void;
    /**
     * How the drop-in gets into the manager, as the shape's operator does it: the unit's text and notes (`unit
     * --install`'s result). @default `unit --install` by the CLI of the bench
     */
    installUnit?: () => Promise<CliResult>;
    /** More checks once the rollback verified (before --link-bin touches the shape's commands). */
    afterRollback?: (updated: Json) => void;
    /**
     * `command` is on the PATH our CLI runs with (pnpm's shim on the role's PATH) and runs the adopted copy until
     * `init --link-bin`: doctor fails it, naming that fix, and passes once it is linked. @default false
     */
    staleOnPath?: boolean;
  },
): Promise<{ adopted: Json; updated: Json; back: Json; doctor: Json; timings: Record<string, number> }> {
  const { rs, service, port, root, asUser } = bench;
  const seen = bench.seen ?? ((file: string) => file);
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      return await work();
    } finally {
      timings[name] = Date.now() - started;
    }
  };
  const pluginSeen = async () => {
    const inspected = await asUser(path.join(root, 'bin', 'openclaw'), ['plugins', 'inspect', PLUGIN_ID, '--json']);
    const out = inspected.stdout;
    expect(inspected.exitCode, out.slice(-2000) + inspected.stderr.slice(-2000)).toBe(0);
    const plugin = JSON.parse(out.slice(out.indexOf('{'))).plugin;
    return { version: plugin.version, status: plugin.status };
  };
  const mainPid = async () =>
    Number((await service.systemctl(['show', '-p', 'MainPID', '--value', service.unit])).stdout.trim());

  const init = await timed('adopt', () =>
    rs([
      ...['init', '--preset', 'openclaw', ...SHORT_WINDOWS],
      ...['--adopt', options.installed, '--unit', options.unit ?? service.unit, ...(options.initFlags ?? [])],
    ]),
  );
  console.log(`init --adopt ${options.installed}:\n${JSON.stringify(init.json?.result?.adopted, null, 2)}`);
  expect(init.exitCode, init.stdout.slice(-3000) + init.stderr.slice(-3000)).toBe(0);
  const adopted = init.json.result.adopted;
  expect(adopted.found.port).toEqual({ port, from: expect.stringContaining('gateway.port') });
  expect(init.json.result.config.node).toBe(options.node);
  expect(adopted.commands[0].runsAdopted).toContainEqual({ path: options.command, kind: options.kind ?? 'script' });
  options.adopted(adopted, init.json.result.config);

  const unit = await (options.installUnit ?? (() => rs(['unit', '--install'])))();
  expect(unit.exitCode, unit.stdout + unit.stderr).toBe(0);
  expect(unit.json.result.changed.join('\n')).toContain(`ExecStart: ${options.unitCommand ?? options.command} (runs `);
  expect(unit.json.result.kept).toEqual(expect.arrayContaining(['arguments: gateway']));
  expect(unit.json.result.content).not.toMatch(/--port|18789/); // the config's port is not overridden
  const before = await mainPid();
  expect((await service.systemctl(['restart', service.unit], { timeoutMs: 400_000 })).exitCode).toBe(0);
  const moved = await openclawHealthy(service, { port, pid: before, timeoutMs: 300_000 });
  expect(moved.version).toBe(FROM);
  // openclaw renames its process title (`openclaw-gateway`): the command is read from the manager, the Node from the
  // process itself.
  const entry = path.join(root, 'current', options.entry);
  const shown = (await service.systemctl(['show', '-p', 'ExecStart', '--value', service.unit])).stdout;
  expect(shown).toContain(`argv[]=${options.node} ${entry} gateway ;`);
  expect(realpathSync(`/proc/${await service.hostPid()}/exe`)).toBe(realpathSync(seen(options.node)));

  // The plugin installed as users install it, before the update (the update's subject is what finalize does with it).
  // OpenClaw gives up on an npm that prints nothing for a while ("termination timeout (no output from npm)": seen once
  // in CI at a load of 9, registry fetches stalled); that one answer of OpenClaw's is asked again, once.
  const install = () => asUser(path.join(root, 'bin', 'openclaw'), ['plugins', 'install', PLUGIN]);
  let plugin = await install();
  if (plugin.exitCode !== 0 && /termination timeout \(no output from npm\)/.test(plugin.stdout + plugin.stderr))
    plugin = await install();
  expect(plugin.exitCode, plugin.stdout.slice(-2000) + plugin.stderr.slice(-2000)).toBe(0);
  expect(await pluginSeen()).toEqual({ version: FROM, status: 'loaded' });

  const updated = await timed('update', () => rs(['update', `openclaw@${TO}`, '--no-preflight']));
  console.log(`update (load ${loadavg()[0]!.toFixed(1)}): ${JSON.stringify(updated.json?.result?.window)}`);
  expect(updated.json?.result?.status, updated.stdout.slice(-3000) + updated.stderr.slice(-3000)).toBe('verified');
  // Finalize ran ahead on a copy of the state, whatever the shape, and was put in place in the window (no cron:
  // shapeConfig), not run there: in particular never for the install kept out of the state, what the adoption added
  // to `independentPaths` inside the state folder (install-cli.sh's `bin/` and `tools/`), which the flip rewrites and
  // which is none of finalize's. Its record names a path relative to the state folder, then why (`tools/node/…
  // (finalize may read it)`).
  const finalize = updated.json.result.steps.find((s: { name: string }) => s.name === 'finalize');
  const ahead = finalize?.evidence?.ahead;
  expect(ahead, JSON.stringify(finalize).slice(0, 3000)).toBeDefined();
  const keptInState = (init.json.result.config.independentPaths as string[])
    .map((kept) => path.relative(bench.state, kept))
    .filter((rel) => rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel));
  for (const forced of (ahead.forcedBy ?? []) as string[]) {
    const inKept = keptInState.filter((kept) => [`${kept}/`, `${kept} `].some((head) => forced.startsWith(head)));
    expect(inKept, `finalize sent into the window by the install kept out of the state: ${forced}`).toEqual([]);
  }
  expect(ahead.swapped, `finalize ran in the window: ${JSON.stringify(ahead.forcedBy)}`).toBe(true);
  expect((await openclawHealthy(service, { port, pid: null, timeoutMs: 120_000 })).version).toBe(TO);
  expect(await pluginSeen()).toEqual({ version: TO, status: 'loaded' });

  const back = await timed('rollback', () => rs(['rollback']));
  console.log(`rollback (load ${loadavg()[0]!.toFixed(1)}): ${JSON.stringify(back.json?.result?.window)}`);
  expect(back.json?.result?.status, back.stdout.slice(-3000) + back.stderr.slice(-3000)).toBe('verified');
  expect((await openclawHealthy(service, { port, pid: null, timeoutMs: 120_000 })).version).toBe(FROM);
  expect(await pluginSeen()).toEqual({ version: FROM, status: 'loaded' });
  options.afterRollback?.(updated.json.result);

  const doctor = await timed('doctor', () => rs(['doctor', '--deep']));
  const checks: { name: string; ok: boolean; detail: string }[] = doctor.json?.result?.checks ?? [];
  console.log(`doctor --deep: ${JSON.stringify(checks.map((c) => [c.name, c.ok]))}`);
  // Every check of the root, the releases and the unit passes. Not `linger` (whether the account's user manager
  // outlives its logins: this one is a private manager the test started, not the account's login manager).
  const stale = `stale command on PATH, not the current release: ${options.command} `;
  const fix = `Fix: release-switcher --root ${root} init --link-bin`;
  const failed = checks.filter((c) => !c.ok && c.name !== 'linger');
  expect(failed).toEqual(
    options.staleOnPath ? [{ name: 'commands-on-path', ok: false, detail: expect.stringContaining(stale) }] : [],
  );
  if (options.staleOnPath) expect(failed[0]!.detail).toContain(fix);
  expect(checks.find((c) => c.name === 'loads')).toMatchObject({ ok: true });

  // The command users type runs current once linked; unlinked, it is back as it was (a script's text, a link's target).
  const command = seen(options.command);
  const was = () => (options.kind === 'link' ? readlinkSync(command) : readFileSync(command, 'utf8'));
  const original = was();
  expect((await rs(['init', '--link-bin'])).exitCode).toBe(0);
  expect(readlinkSync(command)).toBe(path.join(root, 'bin', 'openclaw'));
  if (options.staleOnPath) {
    const linked = (await rs(['doctor'])).json?.result?.checks ?? [];
    expect(linked.find((c: { name: string }) => c.name === 'commands-on-path')).toMatchObject({ ok: true });
  }
  expect((await asUser(options.command, ['--version'])).stdout).toContain(FROM);
  expect((await rs(['init', '--unlink-bin'])).exitCode).toBe(0);
  expect(was()).toBe(original);
  return { adopted, updated: updated.json.result, back: back.json.result, doctor: doctor.json.result, timings };
}
