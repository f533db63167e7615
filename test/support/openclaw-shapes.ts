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
import { type CliResult, accountCliEnv, cli, cliEnv } from './cli.ts';
import {
  OPENCLAW_UNIT,
  REMOVE_TIMEOUT_MS,
  SHORT_WINDOWS,
  accountNpmCache,
  giveTo,
  openclawHealthy,
  openclawManager,
  openclawWork,
  removeOpenclawBench,
} from './openclaw.ts';
import { freePort } from './service.ts';
import type { Where } from './skip.ts';
import { canRunUserManager, type UserManager } from './systemd.ts';

export const FROM = '2026.9.5';
export const TO = '2026.9.6';
const PLUGIN = '@openclaw/matrix';
const PLUGIN_ID = 'matrix';
const PROJECT = path.resolve(import.meta.dirname, '../..');

/**
 * Where the install-shape files run: under a private systemd --user, and not in a pass that leaves them to another
 * (`RS_SKIP_INSTALL_SHAPES`: CI's Node 24 pass, which leaves them to its Node 26 pass, .ci/run).
 */
export function shapesRunHere(): Where {
  const manager = canRunUserManager();
  if (!manager.ok) return manager;
  return {
    ok: !process.env.RS_SKIP_INSTALL_SHAPES,
    why: "RS_SKIP_INSTALL_SHAPES is set (CI's Node 24 pass)",
    where: "in CI's Node 26 pass (.ci/run), and in any run without RS_SKIP_INSTALL_SHAPES",
  };
}

export interface ShapeBench {
  account: Account | undefined;
  work: string;
  root: string;
  um: UserManager;
  /** The service Node, as the account can run it. */
  node: string;
  port: number;
  /** The gateway's state dir (OPENCLAW_STATE_DIR): `~/.openclaw` of the manager's home. */
  state: string;
  env(): Record<string, string>;
  rs(args: string[]): Promise<CliResult>;
  /** A command as the account runs it, with the manager's environment (not the worker's: VITEST silences openclaw). */
  asUser(command: string, args: string[], extra?: Record<string, string>): ReturnType<typeof execa>;
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
  const npmCache = await accountNpmCache(work, path.join(PROJECT, '.bench-cache', 'npm-openclaw'), account);
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
  return {
    account,
    work,
    root,
    um,
    node,
    port,
    state,
    env,
    rs: (args) => cli(['--root', root, '--json', ...args], { env: env(), timeout: 1_200_000 }),
    asUser: (command, args, extra = {}) => {
      const [file, argv] = um.account ? asAccount(um.account, command, args) : [command, args];
      return execa(file, argv, {
        env: um.account ? accountCliEnv(um.account, { ...env(), ...extra }) : cliEnv({ ...env(), ...extra }),
        extendEnv: false,
        reject: false,
        timeout: 900_000,
      });
    },
  };
}

/**
 * The user's config (the port, nowhere else) and the gateway's unit running `execStart gateway`, started and healthy on
 * FROM. `path`: the unit's PATH (pnpm's shim finds `node` there).
 */
export async function startShapeGateway(
  bench: ShapeBench,
  options: { execStart: string; path: string },
): Promise<void> {
  const { um, state, port } = bench;
  mkdirSync(state, { recursive: true });
  writeFileSync(
    path.join(state, 'openclaw.json'),
    `{\n  gateway: { mode: 'local', port: ${port}, bind: 'loopback' },\n}\n`,
  );
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
  expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 300_000 })).version).toBe(FROM);
}

type Json = any;

/**
 * adopt → unit --install + restart → plugin → update → rollback → doctor --deep → --link-bin/--unlink-bin over
 * `command`, with the assertions every shape shares; `adopted` checks what is particular to the shape. Returns the
 * results for more.
 */
export async function shapeLifecycle(
  bench: ShapeBench,
  options: {
    /** What init --adopt is given (`$(pnpm root -g)/openclaw`, …). */
    installed: string;
    /** The command the unit runs and users type. */
    command: string;
    /** What that command is: a script (a wrapper, a shim) or a link (npm's). @default 'script' */
    kind?: 'script' | 'link';
    /** The file of current the unit must run (the one `command` runs). */
    entry: string;
    /** The Node the unit must run it with. */
    node: string;
    adopted: (adopted: Json, config: Json) => void;
    /** More checks once the rollback verified (before --link-bin touches the shape's commands). */
    afterRollback?: (updated: Json) => void;
  },
): Promise<{ adopted: Json; updated: Json; back: Json; doctor: Json; timings: Record<string, number> }> {
  const { rs, um, port, root, asUser } = bench;
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
    const out = String(inspected.stdout);
    expect(inspected.exitCode, out.slice(-2000) + String(inspected.stderr).slice(-2000)).toBe(0);
    const plugin = JSON.parse(out.slice(out.indexOf('{'))).plugin;
    return { version: plugin.version, status: plugin.status };
  };
  const mainPid = async () =>
    Number((await um.systemctl(['show', '-p', 'MainPID', '--value', OPENCLAW_UNIT])).stdout.trim());

  const init = await timed('adopt', () =>
    rs(['init', '--preset', 'openclaw', ...SHORT_WINDOWS, '--adopt', options.installed, '--unit', OPENCLAW_UNIT]),
  );
  console.log(`init --adopt ${options.installed}:\n${JSON.stringify(init.json?.result?.adopted, null, 2)}`);
  expect(init.exitCode, init.stdout.slice(-3000) + init.stderr.slice(-3000)).toBe(0);
  const adopted = init.json.result.adopted;
  expect(adopted.found.port).toEqual({ port, from: expect.stringContaining('gateway.port') });
  expect(init.json.result.config.node).toBe(options.node);
  expect(adopted.commands[0].runsAdopted).toContainEqual({ path: options.command, kind: options.kind ?? 'script' });
  options.adopted(adopted, init.json.result.config);

  const unit = await rs(['unit', '--install']);
  expect(unit.exitCode, unit.stdout + unit.stderr).toBe(0);
  expect(unit.json.result.changed.join('\n')).toContain(`ExecStart: ${options.command} (runs `);
  expect(unit.json.result.kept).toEqual(expect.arrayContaining(['arguments: gateway']));
  expect(unit.json.result.content).not.toMatch(/--port|18789/); // the config's port is not overridden
  const before = await mainPid();
  expect((await um.systemctl(['restart', OPENCLAW_UNIT], { timeoutMs: 400_000 })).exitCode).toBe(0);
  const moved = await openclawHealthy(um, { port, pid: before, timeoutMs: 300_000 });
  expect(moved.version).toBe(FROM);
  // openclaw renames its process title (`openclaw-gateway`): the command is read from the manager, the Node from the
  // process itself.
  const entry = path.join(root, 'current', options.entry);
  const shown = (await um.systemctl(['show', '-p', 'ExecStart', '--value', OPENCLAW_UNIT])).stdout;
  expect(shown).toContain(`argv[]=${options.node} ${entry} gateway ;`);
  expect(realpathSync(`/proc/${moved.pid}/exe`)).toBe(realpathSync(options.node));

  const plugin = await asUser(path.join(root, 'bin', 'openclaw'), ['plugins', 'install', PLUGIN]);
  expect(plugin.exitCode, String(plugin.stdout).slice(-2000) + String(plugin.stderr).slice(-2000)).toBe(0);
  expect(await pluginSeen()).toEqual({ version: FROM, status: 'loaded' });

  const updated = await timed('update', () => rs(['update', `openclaw@${TO}`, '--no-preflight']));
  console.log(`update (load ${loadavg()[0]!.toFixed(1)}): ${JSON.stringify(updated.json?.result?.window)}`);
  expect(updated.json?.result?.status, updated.stdout.slice(-3000) + updated.stderr.slice(-3000)).toBe('verified');
  expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 120_000 })).version).toBe(TO);
  expect(await pluginSeen()).toEqual({ version: TO, status: 'loaded' });

  const back = await timed('rollback', () => rs(['rollback']));
  console.log(`rollback (load ${loadavg()[0]!.toFixed(1)}): ${JSON.stringify(back.json?.result?.window)}`);
  expect(back.json?.result?.status, back.stdout.slice(-3000) + back.stderr.slice(-3000)).toBe('verified');
  expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 120_000 })).version).toBe(FROM);
  expect(await pluginSeen()).toEqual({ version: FROM, status: 'loaded' });
  options.afterRollback?.(updated.json.result);

  const doctor = await timed('doctor', () => rs(['doctor', '--deep']));
  const checks: { name: string; ok: boolean; detail: string }[] = doctor.json?.result?.checks ?? [];
  console.log(`doctor --deep: ${JSON.stringify(checks.map((c) => [c.name, c.ok]))}`);
  // Every check of the root, the releases and the unit passes. Not `linger` (whether the account's user manager
  // outlives its logins: this one is a private manager the test started, not the account's login manager).
  expect(checks.filter((c) => !c.ok && c.name !== 'linger')).toEqual([]);
  expect(checks.find((c) => c.name === 'loads')).toMatchObject({ ok: true });

  // The command users type runs current once linked; unlinked, it is back as it was (a script's text, a link's target).
  const was = () => (options.kind === 'link' ? readlinkSync(options.command) : readFileSync(options.command, 'utf8'));
  const original = was();
  expect((await rs(['init', '--link-bin'])).exitCode).toBe(0);
  expect(readlinkSync(options.command)).toBe(path.join(root, 'bin', 'openclaw'));
  expect(String((await asUser(options.command, ['--version'])).stdout)).toContain(FROM);
  expect((await rs(['init', '--unlink-bin'])).exitCode).toBe(0);
  expect(was()).toBe(original);
  return { adopted, updated: updated.json.result, back: back.json.result, doctor: doctor.json.result, timings };
}
