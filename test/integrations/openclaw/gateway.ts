// A real openclaw gateway run from a release-switcher root, with the plugin installed, for plugin.openclaw.test.ts:
// Node 24, openclaw 2026.9.5 adopted as the root's first release (never run from where npm put it), 2026.9.6
// installed beside it, openclaw's own unit under a private systemd --user with the root's drop-in, token auth on
// loopback, and the plugin installed the way a user does it: `openclaw plugins install <folder>` of the folder that
// integrations/openclaw/scripts/assemble.mjs writes.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { expect } from 'vitest';
import { ensureServiceNode } from '../../../bench/lib/node24.mjs';
import { cli } from '../../support/cli.ts';
import {
  OPENCLAW_UNIT,
  SHORT_WINDOWS,
  openclawCompileCache,
  openclawTmp,
  openclawHealthy,
  openclawManager,
  privateStateLocks,
  writeOpenclawService,
} from '../../support/openclaw.ts';
import { openclawNpmCache, preparedOpenclaw } from '../../support/openclaw-prepared.ts';
import { freePort } from '../../support/service.ts';
import type { UserManager } from '../../support/systemd.ts';

const REPO = path.resolve(import.meta.dirname, '../../..');
export const ASSEMBLE = path.join(REPO, 'integrations', 'openclaw', 'scripts', 'assemble.mjs');
export const TOKEN = 'plugin-test-token-0123456789abcdef';

export interface PluginGateway {
  um: UserManager;
  node: string;
  root: string;
  port: number;
  /** The openclaw CLI of the release `current` points at, with the manager's HOME. */
  openclaw(args: string[], timeout?: number): Promise<Run>;
  /** The same CLI started inside the gateway unit's cgroup, as an agent's shell runs it (seed 003). */
  openclawInUnit(args: string[]): Promise<Run & { signal: string | undefined }>;
  /** release-switcher's own CLI (this repository's build) on the same root, `--json`. */
  rs(args: string[], timeout?: number): Promise<Run & { json: any }>;
  mainPid(): Promise<number>;
  /** A gateway method called by an operator client holding exactly `scopes` (operator-call.mjs); stdout parsed. */
  operator(method: string, params: object, scopes: string[]): Promise<Run & { json: any }>;
  /** A WebSocket client that connects without credentials, then calls `method` (anonymous-call.mjs). */
  anonymous(method: string, params: object): Promise<{ frames: any[]; close: { code: number } | null }>;
}

export interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * The user's config: the port, token auth on loopback (openclaw refuses to start without auth here). No root for the
 * plugin: it finds the one the gateway runs from (not the default root) by the gateway's own path.
 */
function writeConfig(um: UserManager, options: { port: number; log: string; more?: Record<string, unknown> }): void {
  const config = {
    logging: { file: options.log },
    gateway: { mode: 'local', port: options.port, bind: 'loopback', auth: { mode: 'token', token: TOKEN } },
    ...options.more,
  };
  writeFileSync(path.join(um.env.HOME!, '.openclaw', 'openclaw.json'), `${JSON.stringify(config, null, 2)}\n`);
}

/** The cgroup.procs files of every hierarchy process `pid` is in (the named systemd one and the unified one). */
function cgroupProcsOf(pid: number): string[] {
  const unified = existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';
  return readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .map(([, controllers, where]) =>
      controllers === 'name=systemd'
        ? `/sys/fs/cgroup/systemd${where}`
        : controllers === ''
          ? `${unified}${where}`
          : '',
    )
    .map((dir) => path.join(dir, 'cgroup.procs'))
    .filter((file) => file !== 'cgroup.procs' && existsSync(file));
}

/** The ways a test talks to the gateway and the root, all with the manager's HOME and the gateway's temp dir. */
function clients(options: { um: UserManager; node: string; root: string; port: number; cache: string }) {
  const { um, node, root, port, cache } = options;
  const env = () => ({
    ...(um.env as Record<string, string>),
    npm_config_cache: cache,
    TMPDIR: openclawTmp(um),
    ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
  });
  const node24 = (args: string[], timeout = 120_000) =>
    execa(node, args, {
      // The compiled code of the service's Node too (its unit's, writeOpenclawService), for its CLI only.
      env: {
        ...env(),
        NODE_COMPILE_CACHE: openclawCompileCache(um.account),
        PATH: `${path.dirname(node)}:${process.env.PATH}`,
      },
      extendEnv: false,
      reject: false,
      timeout,
    });
  const parsed = (stdout: string) => {
    try {
      return JSON.parse(stdout);
    } catch {
      return undefined;
    }
  };
  const rs: PluginGateway['rs'] = (args, timeout = 900_000) =>
    cli(['--root', root, '--json', ...args], { env: env(), timeout, as: null });
  // One openclaw CLI at a time: the CLI takes OpenClaw's state-lifecycle coordinator for itself, and a
  // second one started meanwhile on the same state is refused ("another OpenClaw process owns
  // state-lifecycle", seen on CI when a test started three at once). A user's shell runs them one by one.
  let previousCli: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(run: () => Promise<T>): Promise<T> => {
    const next = previousCli.then(run, run);
    previousCli = next.catch(() => undefined);
    return next;
  };
  const openclaw: PluginGateway['openclaw'] = (args, timeout = 180_000) =>
    oneAtATime(async () => {
      const r = await node24([path.join(root, 'current', 'openclaw.mjs'), ...args], timeout);
      return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
    });
  const operator: PluginGateway['operator'] = async (method, params, scopes) => {
    const script = path.join(import.meta.dirname, 'operator-call.mjs');
    const r = await node24([script, path.join(root, 'current'), method, JSON.stringify(params), scopes.join(',')]);
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, json: parsed(r.stdout) };
  };
  const anonymous: PluginGateway['anonymous'] = async (method, params) => {
    const script = path.join(import.meta.dirname, 'anonymous-call.mjs');
    const r = await node24([script, String(port), method, JSON.stringify(params)]);
    expect(r.exitCode, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  };
  const mainPid = async () =>
    Number((await um.systemctl(['show', '-p', 'MainPID', '--value', OPENCLAW_UNIT])).stdout.trim());
  const openclawInUnit: PluginGateway['openclawInUnit'] = (args) => oneAtATime(() => openclawInUnitNow(args));
  const openclawInUnitNow: PluginGateway['openclawInUnit'] = async (args) => {
    const joins = cgroupProcsOf(await mainPid());
    const script = 'for f in "$@"; do echo $$ > "$f"; done; exec "$NODE" "$OPENCLAW" $ARGS';
    const r = await execa('sh', ['-c', script, 'sh', ...joins], {
      env: {
        ...env(),
        PATH: `${path.dirname(node)}:${process.env.PATH}`,
        OPENCLAW_SYSTEMD_UNIT: OPENCLAW_UNIT,
        NODE: node,
        OPENCLAW: path.join(root, 'current', 'openclaw.mjs'),
        ARGS: args.join(' '),
      },
      extendEnv: false,
      reject: false,
      timeout: 300_000,
    });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
  };
  return { rs, openclaw, openclawInUnit, operator, anonymous, mainPid };
}

export async function startPluginGateway(options: {
  work: string;
  from: string;
  to: string;
  /** More top-level entries of the user's config (e.g. a model provider for an agent turn). */
  config?: Record<string, unknown>;
}): Promise<PluginGateway> {
  const { work, from, to } = options;
  const node = process.env.BENCH_NODE24 ?? (await ensureServiceNode()).node;
  // Only read: `init --adopt` copies it into the root, and the gateway never runs from it.
  const prefix = await preparedOpenclaw(from);
  const root = path.join(work, 'root');
  const pluginDir = path.join(work, 'plugin');
  const assembled = await execa(process.execPath, [ASSEMBLE, pluginDir], { reject: false });
  expect(assembled.exitCode, assembled.stderr).toBe(0);
  const um = await openclawManager('ocplugin');
  // Its state dir is /root/.openclaw by path, as every root gateway's of the tier is (the bound HOME): its state locks
  // in a folder of its own, or a gateway of a file running beside this one owns "that state directory". Seen in a full
  // run: the agent's update ended with 2026.9.5 served again by a new process while such a gateway ran beside it.
  await privateStateLocks(um);
  const port = await freePort();
  // The unit's TMPDIR, where openclaw puts the plugin captures of every process, is a folder of the manager's, not
  // /tmp (writeOpenclawService: openclawTmp); the test's own openclaw commands use it too (clients).
  await writeOpenclawService(um, { node, prefix, port });
  const logs = path.join(work, 'logs');
  mkdirSync(logs);
  writeConfig(um, { port, log: path.join(logs, 'openclaw.log'), ...(options.config && { more: options.config }) });
  const cache = await openclawNpmCache(work);
  const gw = { um, node, root, port, ...clients({ um, node, root, port, cache }) };
  const openclawDir = path.join(prefix, 'lib', 'node_modules', 'openclaw');
  const init = await gw.rs([
    'init',
    '--preset',
    'openclaw',
    '--adopt',
    openclawDir,
    '--node',
    node,
    '--unit',
    OPENCLAW_UNIT,
    ...SHORT_WINDOWS,
  ]);
  expect(init.exitCode, init.stdout + init.stderr).toBe(0);
  expect((await gw.rs(['unit', '--install'])).exitCode).toBe(0);
  const installed = await gw.rs(['install', `openclaw@${to}`]);
  expect(installed.exitCode, installed.stdout.slice(-2000) + installed.stderr.slice(-2000)).toBe(0);
  // Installed before the gateway starts, so its first start loads the plugin (no restart, no gateway round trip).
  const plugin = await gw.openclaw(['plugins', 'install', pluginDir, '--force', '--accept-capabilities']);
  expect(plugin.exitCode, plugin.stdout + plugin.stderr).toBe(0);
  expect((await um.systemctl(['start', OPENCLAW_UNIT])).exitCode).toBe(0);
  expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 300_000 })).version).toBe(from);
  return gw;
}
