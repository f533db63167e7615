import {
  chownSync,
  existsSync,
  lchownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir, loadavg, tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { expect } from 'vitest';
import { ensureServiceNode } from '../../bench/lib/node24.mjs';
import { parseStat } from '../../src/service/listener-table.ts';
import { type Account, accountTempDir, asAccount, nodeFor } from './accounts.ts';
import { accountCliEnv, accountCwd, cliEnv } from './cli.ts';
import { startUserManager, type UserManager } from './systemd.ts';

export const OPENCLAW_UNIT = 'openclaw-gateway.service';
const FIXTURE = path.resolve(import.meta.dirname, '../unit-files/fixtures/openclaw-gateway.service');
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * The phases of a file's preparation, timed: `lap(what)` prints how long `what` took since the last lap, with the load
 * average, so a run's log says where a beforeAll spends its minutes (docs/testing.md, "What the real-gateway files share").
 */
export function prepClock(file: string): (what: string) => void {
  let last = Date.now();
  return (what) => {
    const now = Date.now();
    console.log(`prep ${file}: ${what} ${seconds(now - last)} (load ${loadavg()[0]!.toFixed(1)})`);
    last = now;
  };
}
/**
 * `init` flags for a test whose subject is not the windows: the preset's 10 s stability window and the rehearsal's
 * 5 s hold are waited out on every switch of the real gateway (its cold start, 9–40 s, is not shortened by them).
 * Health must still hold for 2 s with the same process; a test of the windows themselves keeps the preset's.
 */
export const SHORT_WINDOWS = ['--stable-for', '2', '--preflight-for', '2'];

/** `npm install -g --prefix <prefix> openclaw@<version>` with that Node's npm, unless the prefix already has it. */
export async function ensureOpenclaw(options: {
  node: string;
  prefix: string;
  version: string;
  logsDir: string;
  /** npm's cache (offline first): one kept for the run, so a second install of the same version downloads nothing. */
  cache?: string;
}): Promise<void> {
  const { node, prefix, version } = options;
  if (existsSync(path.join(prefix, 'lib', 'node_modules', 'openclaw', 'package.json'))) return;
  const started = Date.now();
  const npm = await execa(
    node,
    [
      path.join(path.dirname(node), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
      'install',
      '-g',
      '--prefix',
      prefix,
      `openclaw@${version}`,
      '--no-audit',
      '--no-fund',
      ...(options.cache ? ['--prefer-offline'] : []),
    ],
    {
      env: {
        ...process.env,
        PATH: `${path.dirname(node)}:${process.env.PATH}`,
        npm_config_logs_dir: options.logsDir,
        npm_config_update_notifier: 'false',
        ...(options.cache ? { npm_config_cache: options.cache } : {}),
      },
      reject: false,
      timeout: 900_000,
    },
  );
  expect(npm.exitCode, npm.stderr.slice(-2000)).toBe(0);
  console.log(`npm install -g openclaw@${version}: ${seconds(Date.now() - started)}`);
}

/** The home openclaw's CLI insists on: the manager's account's (/home/rs-user), or the test process's (/root). */
const accountHome = (um: UserManager) => um.account?.home ?? (userInfo().homedir || homedir());

/**
 * A private user manager owned by `account` (the gateway and the CLI run as it; none: root's, for the files of the
 * openclaw tier not yet moved to the normal account) whose HOME is bound over that account's home in its namespace
 * (see the header).
 */
export async function openclawManager(name: string, account?: Account): Promise<UserManager> {
  const um = await startUserManager({ name, account: account ?? null });
  symlinkSync(um.env.XDG_CONFIG_HOME!, path.join(um.env.HOME!, '.config'));
  if (um.account) lchownSync(path.join(um.env.HOME!, '.config'), um.account.uid, um.account.gid);
  const bind = await execa('nsenter', ['-t', String(um.pid), '-m', 'mount', '--bind', um.env.HOME!, accountHome(um)], {
    reject: false,
  });
  expect(bind.exitCode, bind.stderr).toBe(0);
  return um;
}

/**
 * Gives the manager's namespace its own `/tmp/openclaw-state-locks-<uid>/` (a tmpfs over it, seen only there), for a
 * gateway on its default state dir: openclaw names its state-directory locks by a hash of the state path, and every
 * bound HOME's `.openclaw` has the same path, so gateways of other runs would own "that state directory" (see
 * writeOpenclawService's ownStateDir). OpenClaw's own updater manages the service only for the default install
 * identity (no OPENCLAW_STATE_DIR elsewhere than `~/.openclaw`), so a gateway it updates cannot have a state dir of
 * its own by path.
 */
export async function privateStateLocks(um: UserManager): Promise<void> {
  const uid = um.account?.uid ?? process.getuid?.() ?? 0;
  const gid = um.account?.gid ?? process.getgid?.() ?? 0;
  const locks = `/tmp/openclaw-state-locks-${uid}`;
  const mount = `mkdir -p -m 0700 ${locks} && mount -t tmpfs -o mode=0700,uid=${uid},gid=${gid} tmpfs ${locks}`;
  const mounted = await execa('nsenter', ['-t', String(um.pid), '-m', 'sh', '-c', mount], { reject: false });
  expect(mounted.exitCode, mounted.stderr).toBe(0);
}

/**
 * Gives the manager the D-Bus session bus a login gives a user manager (dbus-user-session): unmasks the distro's
 * `dbus.socket`/`dbus.service` (systemd-home.ts masks them), starts the bus at `$XDG_RUNTIME_DIR/bus`, and waits until
 * the manager has registered on it as `org.freedesktop.systemd1` (systemd connects once both units run). Returns the
 * `DBUS_SESSION_BUS_ADDRESS` an operator's shell has at such a login. OpenClaw's updater needs it: its admission
 * inspection of the service (`readGatewayServiceState` with `requireLoaded`) authenticates the manager through the bus
 * driver (`GetNameOwner`, `GetConnectionUnixUser` of `org.freedesktop.systemd1`) with `busctl --user`, and refuses
 * systemd's private socket outright (`systemd-user-bus-unavailable`), though `openclaw gateway status` reads the unit
 * through that socket; without a bus it updates around the live gateway and its Doctor finds the database in use.
 */
export async function sessionBus(um: UserManager): Promise<string> {
  for (const unit of ['dbus.socket', 'dbus.service']) rmSync(path.join(um.unitDir, unit), { force: true });
  expect((await um.systemctl(['daemon-reload'])).exitCode).toBe(0);
  const started = await um.systemctl(['start', 'dbus.socket', 'dbus.service']);
  expect(started.exitCode, started.stderr).toBe(0);
  const address = `unix:path=${path.join(um.env.XDG_RUNTIME_DIR!, 'bus')}`;
  const version = [
    '--user',
    '--auto-start=no',
    'get-property',
    'org.freedesktop.systemd1',
    '/org/freedesktop/systemd1',
    'org.freedesktop.systemd1.Manager',
    'Version',
  ];
  let last = '';
  const registered = async () => {
    const r = await um.run('env', [`DBUS_SESSION_BUS_ADDRESS=${address}`, 'busctl', ...version], { timeoutMs: 5_000 });
    last = `exit ${r.exitCode}: ${r.stdout.trim()} ${r.stderr.trim()}`;
    return r.exitCode === 0;
  };
  await um.waitFor(registered, { timeoutMs: 30_000, what: 'the manager registered on its session bus' }).catch((e) => {
    throw new Error(`${(e as Error).message}\nlast busctl: ${last}`);
  });
  return address;
}

/** Writes the user's config (the gateway on `port`) and openclaw's own unit; returns the unit's text. */
export async function writeOpenclawService(
  um: UserManager,
  options: {
    node: string;
    prefix: string;
    port: number;
    /**
     * Name the state dir by its real path (OPENCLAW_STATE_DIR, a drop-in), not the bound `/root/.openclaw`: openclaw
     * keeps its state-directory locks under `/tmp/openclaw-state-locks-<uid>/`, named by a hash of the state path, so
     * gateways of other runs with the same bound HOME would own "that state directory" and this one's migration
     * exits 78 ("another OpenClaw process owns gateway-lifecycle"). The caller's CLI needs the same variable.
     * @default false
     */
    ownStateDir?: boolean;
    /** More top-level entries of the user's config (JSON5 text, e.g. a model provider: slow-model.ts `modelConfig`). */
    config?: string;
    /** More of the service's environment (the same drop-in as ownStateDir's, e.g. npm's registry and cache). */
    environment?: Record<string, string>;
    /**
     * `gateway.auth` as onboarding writes it (`mode: 'token'`, a generated token). OpenClaw's own updater needs it: it
     * verifies the serving gateway before it stops it, and that health probe refuses to open a websocket without
     * credentials ("gateway health requires credentials before opening a websocket"), so it waits out its timeout.
     * @default none (no auth, as the fixture gateways have always run)
     */
    authToken?: string;
    /**
     * The service's Node keeps its compiled code in a folder of the account's (`openclawCompileCache`), as OpenClaw's
     * VPS guide advises for small hosts (`vps.md` in its docs, "Startup tuning for small VMs and ARM hosts":
     * `Environment=NODE_COMPILE_CACHE=…` in the unit; docs/testing.md). Without it every start and every command run
     * for the service compiles OpenClaw's bundle again. A bench of the default install turns it off. @default true
     */
    compileCache?: boolean;
  },
): Promise<string> {
  const { node, prefix, port } = options;
  const auth = options.authToken ? `, auth: { mode: 'token', token: '${options.authToken}' }` : '';
  mkdirSync(path.join(um.env.HOME!, '.openclaw'), { recursive: true });
  writeFileSync(
    path.join(um.env.HOME!, '.openclaw', 'openclaw.json'),
    `// the user's own config\n{\n  gateway: { mode: 'local', port: ${port}, bind: 'loopback'${auth} },\n  ${options.config ?? ''}\n}\n`,
  );
  await giveTo(um.account, path.join(um.env.HOME!, '.openclaw')); // the gateway rewrites its own config
  // openclaw's own unit, with this run's Node, prefix and port (HOME=/root is the bound temp home in the namespace).
  // One pass: a value put in is never read again (one replace after another made a clone under /check/work/main
  // point its unit at /check/check/work/main/…, since this run's Node path holds the fixture's).
  const values: Record<string, string> = {
    '/work/main/.bench-cache/node24/bin/node': node,
    '/work/main/.bench-cache/node24/bin': path.dirname(node),
    '/tmp/oc/prefix': prefix,
    '18931': String(port),
    'HOME=/root': `HOME=${accountHome(um)}`,
  };
  const recorded = new RegExp(Object.keys(values).map(escapeRegExp).join('|'), 'g');
  const unitText = readFileSync(FIXTURE, 'utf8').replace(recorded, (found) => values[found]!);
  await um.writeUnit(OPENCLAW_UNIT, unitText);
  const environment = {
    ...(options.ownStateDir && { OPENCLAW_STATE_DIR: path.join(um.env.HOME!, '.openclaw') }),
    ...options.environment,
  };
  // Drop-ins, so that they outlive the unit release-switcher writes over this one (`unit --install`); the compile
  // cache in one of its own, as `systemctl --user edit` leaves it (a file may write its own state-dir.conf over).
  const dropIns = {
    'state-dir.conf': environment,
    'compile-cache.conf':
      options.compileCache === false ? {} : { NODE_COMPILE_CACHE: openclawCompileCache(um.account) },
    'tmp.conf': { TMPDIR: openclawTmp(um) },
  };
  const dropInDir = path.join(um.unitDir, `${OPENCLAW_UNIT}.d`);
  for (const [name, entries] of Object.entries(dropIns)) {
    if (Object.keys(entries).length === 0) continue;
    mkdirSync(dropInDir, { recursive: true });
    const lines = Object.entries(entries).map(([key, value]) => `Environment=${key}=${value}\n`);
    writeFileSync(path.join(dropInDir, name), `[Service]\n${lines.join('')}`);
  }
  if (existsSync(dropInDir)) {
    await giveTo(um.account, dropInDir);
    await um.systemctl(['daemon-reload']);
  }
  return unitText;
}

/**
 * The temporary folder of a test's gateway and of the commands run for it (its unit's TMPDIR, in a drop-in: `tmp.conf`;
 * startShapeGateway's unit too): a folder of the manager's home, 0700 and the account's, removed with it. Not OpenClaw's
 * `TMPDIR=/tmp`: 2026.9.5 copies each plugin's package into a new `openclaw-plugin-build-*` folder of TMPDIR at each
 * start and leaves it there (about 5,000 files, 49 MB with @openclaw/matrix), and 2026.9.6's Doctor, run by every
 * finalize, walks every such folder of its TMPDIR and of `/tmp` to report them. One host's gateway leaves its own; the
 * tier's hundred gateways left theirs in the one `/tmp`, so every later Doctor walked them all (measured 2026-11-30:
 * `doctor --repair` 35.6 CPU-s beside 164 of them, 9.2 with none; `readiness.openclaw.test.ts` alone 251 CPU-s and
 * 242 s, then 191 and 177). A private `/tmp` is what the hardened install has anyway: OpenClaw's Ansible role runs
 * its gateway with `PrivateTmp=true` (test/support/ansible-unit.ts).
 */
export function openclawTmp(um: UserManager): string {
  const known = tmpFolders.get(um);
  if (known) return known; // made once per manager (every OpenClaw command of a file asks)
  const dir = path.join(um.env.HOME!, 'tmp');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (um.account) chownSync(dir, um.account.uid, um.account.gid);
  tmpFolders.set(um, dir);
  return dir;
}

/** The folders openclawTmp made, by their manager. */
const tmpFolders = new WeakMap<UserManager, string>();

/** The folders openclawCompileCache made in this worker. */
const compileCaches = new Set<string>();

/**
 * Where `who`'s OpenClaw processes keep V8's compiled code (NODE_COMPILE_CACHE): one folder per account for the whole
 * run, so a file's gateway starts and OpenClaw commands find what the files before it compiled (OpenClaw's launcher
 * keeps each version's code apart, under `openclaw/<version>/`). Not OpenClaw's default, `/tmp/node-compile-cache`:
 * root makes that first on a machine that runs the suite (npm and Node 22+ put their own there), and an account
 * cannot write in it, so each of its OpenClaw processes compiled the whole bundle again (measured: `doctor --lint`
 * 3.1 CPU-s without a cache, 2.6 with it warm). Made 0700 and the account's, as a cache of code it runs must be.
 */
export function openclawCompileCache(who: Account | undefined): string {
  const uid = who?.uid ?? process.getuid?.() ?? 0;
  const dir = path.join(process.env.RS_RUN_TMP ?? tmpdir(), `openclaw-compile-cache-${uid}`);
  if (compileCaches.has(dir)) return dir; // made once per worker (every OpenClaw command of a file asks)
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (who) chownSync(dir, who.uid, who.gid);
  compileCaches.add(dir);
  return dir;
}

/**
 * What the CLI of a real-gateway test runs with: the manager's environment, the gateway's state dir by its own path
 * (no other gateway on the machine has it: finalize.openclaw.test.ts says why; the unit gets it too, ownStateDir),
 * the file's npm cache and logs, and the CA the machine's proxy signs with, when it has one.
 */
export function openclawCliEnv(
  um: UserManager,
  files: { npmCache: string; work: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...(um.env as Record<string, string>),
    OPENCLAW_STATE_DIR: path.join(um.env.HOME!, '.openclaw'),
    npm_config_cache: files.npmCache,
    npm_config_logs_dir: path.join(files.work, 'npm-logs'),
    ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
    ...extra,
  };
}

/**
 * The gateway of openclaw's own unit (writeOpenclawService) started, then brought under release-switcher as an
 * operator does: `init --preset openclaw --adopt` of the npm -g package it runs from (`init`: more flags),
 * `unit --install`, and a restart on the unit release-switcher wrote, serving `version` again. `rs` runs the CLI on
 * the root; init's result is returned.
 */
export async function adoptRunningGateway(
  um: UserManager,
  options: {
    rs: (args: string[]) => Promise<{ exitCode: number; stdout: string; stderr: string }>;
    node: string;
    prefix: string;
    port: number;
    version: string;
    init?: readonly string[];
    /**
     * Started once the root exists (after `unit --install`) and awaited after the gateway serves again on our unit:
     * preparation that needs the root but not the gateway (`install` of the target), run while the gateway restarts.
     */
    alongsideRestart?: () => Promise<void>;
  },
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const { rs, node, port } = options;
  expect((await um.systemctl(['start', OPENCLAW_UNIT])).exitCode).toBe(0);
  await openclawHealthy(um, { port, pid: null, timeoutMs: 300_000 });
  const openclaw = path.join(options.prefix, 'lib', 'node_modules', 'openclaw');
  const init = await rs([
    'init',
    ...['--preset', 'openclaw', '--adopt', openclaw, '--node', node, '--unit', OPENCLAW_UNIT],
    ...(options.init ?? []),
  ]);
  expect(init.exitCode, init.stdout + init.stderr).toBe(0);
  expect((await rs(['unit', '--install'])).exitCode).toBe(0);
  const alongside = options.alongsideRestart?.();
  // Settled if the restart fails first: its own failure is the one reported, not an unhandled rejection.
  alongside?.catch(() => undefined);
  const pid = Number((await um.systemctl(['show', '-p', 'MainPID', '--value', OPENCLAW_UNIT])).stdout.trim());
  expect((await um.systemctl(['restart', OPENCLAW_UNIT], { timeoutMs: 400_000 })).exitCode).toBe(0);
  expect((await openclawHealthy(um, { port, pid, timeoutMs: 300_000 })).version).toBe(options.version);
  await alongside;
  return init;
}

/**
 * Polls /startupz every `pollMs` until it is ok and systemd's main PID is not `pid`; the version, the wait and the PID.
 * `um`: the gateway's manager, and its unit when that is not OPENCLAW_UNIT (a shape's ShapeService).
 */
export async function openclawHealthy(
  um: Pick<UserManager, 'systemctl' | 'readLog'> & { unit?: string },
  options: { port: number; pid: number | null; timeoutMs: number; pollMs?: number },
): Promise<{ version: string; ms: number; pid: number }> {
  const unit = um.unit ?? OPENCLAW_UNIT;
  const started = Date.now();
  for (;;) {
    const body = await fetch(`http://127.0.0.1:${options.port}/startupz`, { signal: AbortSignal.timeout(5_000) })
      .then((r) => r.json() as Promise<{ ok?: boolean; version?: string }>)
      .catch(() => undefined);
    // The manager is asked only once the port answers ok: each ask is a process forked from this worker (hundreds of
    // MB: tens of ms of CPU each), every second of every wait for a gateway, on a CPU-bound CI.
    const main = body?.ok ? Number((await um.systemctl(['show', '-p', 'MainPID', '--value', unit])).stdout.trim()) : 0;
    if (body?.ok && main > 0 && main !== options.pid)
      return { version: body.version!, ms: Date.now() - started, pid: main };
    if (Date.now() - started > options.timeoutMs)
      throw new Error(
        `openclaw did not answer on ${options.port} within ${seconds(options.timeoutMs)}:\n${await um.readLog()}`,
      );
    await new Promise((r) => setTimeout(r, options.pollMs ?? 1_000));
  }
}

/**
 * OpenClaw's own CLI (`argv[0]`, a path) as an operator runs it on the manager's machine: inside the manager's mount
 * namespace, where the account's home is the manager's (bound over it, see openclawManager), so that openclaw finds
 * its config and its unit where it put them and drives the unit through this manager (`openclaw update` stops and
 * starts it itself). The manager's environment plus `env`, not the worker's: with VITEST set, openclaw's CLI exits 0
 * at once and does nothing. As the manager's account (entered as root, then its uid, gid and groups, nothing of
 * root's: asAccount), in its temp HOME (the checkout may be closed to it); root's manager: as the test process.
 */
export function openclawInManager(
  um: UserManager,
  argv: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
) {
  const inside = ['/usr/bin/env', `HOME=${accountHome(um)}`, ...argv];
  const [command, args] = um.account
    ? asAccount(um.account, inside[0]!, inside.slice(1))
    : [inside[0]!, inside.slice(1)];
  return execa('nsenter', ['-t', String(um.pid), '-m', `--wd=${um.env.HOME}`, '--', command, ...args], {
    env: { ...(um.env as Record<string, string>), ...options.env },
    extendEnv: false,
    reject: false,
    timeout: options.timeoutMs ?? 180_000,
  });
}

/** What a `/startupz` poller keeps of each answer: whether it counts as up. */
type StartupzBody = { ok?: boolean; status?: unknown; version?: string };

/**
 * `/startupz` every 100 ms (1 s per answer at most) until `stop()`: the longest time without an answer that `up`
 * accepts, where in the run it fell (ms from the start), and the last version an up answer named. The outage as a
 * monitor outside sees it, to hold a transaction's recorded window or a bare restart against.
 */
export function startupzPoller(port: number, up: (body: StartupzBody) => boolean = (body) => body.ok === true) {
  let running = true;
  const started = performance.now();
  let lastOk = started;
  let longest = { ms: 0, from: 0, to: 0 };
  let version: string | undefined;
  const gap = (now: number) => ({ ms: now - lastOk, from: lastOk - started, to: now - started });
  const done = (async () => {
    while (running) {
      const body = await fetch(`http://127.0.0.1:${port}/startupz`, { signal: AbortSignal.timeout(1_000) })
        .then((r) => (r.ok ? (r.json() as Promise<StartupzBody>) : undefined))
        .catch(() => undefined);
      const now = performance.now();
      if (body && up(body)) {
        if (now - lastOk > longest.ms) longest = gap(now);
        lastOk = now;
        version = body.version;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop(): Promise<{ unavailableMs: number; fromMs: number; toMs: number; version: string | undefined }> {
      running = false;
      await done;
      const now = performance.now();
      const worst = now - lastOk > longest.ms ? gap(now) : longest;
      return { unavailableMs: worst.ms, fromMs: worst.from, toMs: worst.to, version };
    },
  };
}

/** Up as the contract says (and release-switcher judges): a 2xx with `status: "started"`. */
export const outsideWatch = (port: number) => startupzPoller(port, (body) => body.status === 'started');

/**
 * What both benches start from: Node 24 (BENCH_NODE24 or bench/lib/node24.mjs), openclaw `version` installed with
 * `npm install -g` (into OPENCLAW_PREFIX when it names one that has it, else under `work`), and a manager for it.
 */
export async function openclawBench(options: {
  name: string;
  work: string;
  version: string;
  /** Where openclaw is (or is installed): a test that must not share a prepared prefix names its own. */
  prefix?: string;
  /** The account the manager, the gateway and the CLI run as. @default root (the test process) */
  account?: Account | undefined;
}): Promise<{ node: string; prefix: string; um: UserManager }> {
  const node = nodeFor(options.account, process.env.BENCH_NODE24 ?? (await ensureServiceNode()).node);
  const prefix = options.prefix ?? process.env.OPENCLAW_PREFIX ?? path.join(options.work, 'prefix');
  await ensureOpenclaw({ node, prefix, version: options.version, logsDir: path.join(options.work, 'npm-logs') });
  const um = await openclawManager(options.name, options.account);
  if (prefix.startsWith(`${options.work}/`)) await givePrefixTo(um.account, prefix); // adopt may repoint its links
  return { node, prefix, um };
}

/**
 * The work folder of an openclaw test file: its root, prefix, caches and logs. Owned by `account` when the gateway
 * and the CLI run as one (the test process may still write anywhere in it).
 */
export function openclawWork(prefix: string, account: Account | undefined): string {
  return account ? accountTempDir(account, prefix) : mkdtempSync(path.join(tmpdir(), prefix));
}

/** Hand a tree the test process made (a copied prefix, an npm cache, a config) to `account`; none: left as it is. */
export async function giveTo(account: Account | undefined, dir: string): Promise<void> {
  if (account) await execa('chown', ['-R', `${account.uid}:${account.gid}`, dir]);
}

/**
 * Hand a prefix the test process copied to `account`: its folders and the entries of its own; not what is linked to the
 * prepared prefix (`copyOpenclaw` with `link`: its files, and its symbolic links, which `cp --link` links too), which
 * stays root's: read-only to the account, which may still replace an entry in its own folders (adopt repoints links).
 */
export async function givePrefixTo(account: Account | undefined, prefix: string): Promise<void> {
  if (!account) return;
  const owner = `${account.uid}:${account.gid}`;
  const shared = ['!', '-type', 'd', '-links', '+1', '-prune'];
  await execa('find', [prefix, ...shared, '-o', '-exec', 'chown', '-h', owner, '{}', '+']);
}

/**
 * npm's cache for the account's CLI and gateway: a copy of `source` (the prepared one, warm with openclaw's packages)
 * in `work`, owned by the account; `source` itself for root.
 */
export async function accountNpmCache(work: string, source: string, account: Account | undefined): Promise<string> {
  if (!account) return source;
  const copy = path.join(work, 'npm-cache');
  mkdirSync(path.join(copy, '_cacache'), { recursive: true });
  // Only what makes it warm: the content and its index, not `_cacache/tmp` (nor npm's `_logs`), where an npm run by a
  // file beside this one (a root gateway's, writing in the source itself) writes files it then renames or deletes: cp
  // would list one and then fail not finding it. Content is added by rename and never changed; an index line copied
  // half written is one npm skips (each line carries its own hash).
  const cacache = path.join(source, '_cacache');
  const parts = existsSync(cacache) ? readdirSync(cacache).filter((part) => part !== 'tmp') : [];
  if (parts.length > 0)
    await execa('cp', ['-a', ...parts.map((part) => path.join(cacache, part)), path.join(copy, '_cacache')]);
  await giveTo(account, copy);
  return copy;
}

/**
 * What `removeOpenclawBench` may take: the gateway's drain, then clearing the attribute of and removing two or three
 * releases and a prefix (80,000 entries and more). Seen over 120 s at a load average of 17.
 */
export const REMOVE_TIMEOUT_MS = 600_000;

/** Stop the manager (and the gateway with it), then remove the bench's folder, sealed releases included. */
export async function removeOpenclawBench(um: UserManager | undefined, work: string): Promise<void> {
  await um?.stop();
  await execa('chattr', ['-R', '-f', '-i', work], { reject: false });
  rmSync(work, { recursive: true, force: true });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Pids of live processes carrying the finalize marker in their environment, of this file's gateway only (its state
 * dir): the openclaw tier runs files side by side, and another file's finalize carries the marker too.
 */
export function finalizeProcesses(stateDir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const environ = readFileSync(`/proc/${name}/environ`, 'latin1').split('\0');
      if (
        environ.some((e) => e.startsWith('RELEASE_SWITCHER_FINALIZE=')) &&
        environ.includes(`OPENCLAW_STATE_DIR=${stateDir}`)
      )
        pids.push(Number(name));
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}

/**
 * Of `pids` (finalizeProcesses'), the finalize's own: those alive whose parent is not among them. Its children inherit
 * the marker and come and go on their own (OpenClaw's launcher starts itself again, its doctor, readers of its
 * database), so the whole set found at one moment is not the set found the next.
 */
export function finalizeTops(pids: readonly number[]): number[] {
  const parentOf = (pid: number): number | undefined => {
    try {
      return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.ppid;
    } catch {
      return undefined; // gone meanwhile
    }
  };
  return pids.filter((pid) => {
    const parent = parentOf(pid);
    return parent !== undefined && !pids.includes(parent);
  });
}

/**
 * Fields of a root's config.json set as an operator edits the file (the account's, as the CLI left it): for a file
 * whose subject needs a setting no `init` flag gives (`finalizeAhead: false`: finalize in the window).
 */
export async function editRootConfig(
  root: string,
  fields: Record<string, unknown>,
  account: Account | undefined,
): Promise<void> {
  const file = path.join(root, 'config.json');
  writeFileSync(file, `${JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...fields }, null, 2)}\n`);
  if (account) await execa('chown', [`${account.uid}:${account.gid}`, file]);
}

/**
 * `openclaw` of a root (`<root>/bin/openclaw`: the current release's CLI), as the operator runs it: as `who()` (the
 * manager's account, known once the file's beforeAll made it), with `env()` (openclawCliEnv's, and whatever the file adds), never the worker's (with VITEST set, openclaw's
 * CLI exits 0 at once and prints nothing). `pluginSeen` asks it what a plugin is (`plugins inspect <id> --json`).
 */
export function rootOpenclaw(
  who: () => Account | undefined,
  root: string,
  env: () => Record<string, string>,
  timeoutMs = 600_000,
): {
  openclawCli: (args: string[]) => ReturnType<typeof execa>;
  pluginSeen: (id: string) => Promise<{ version?: string; status?: string }>;
} {
  const openclawCli = (args: string[]) => {
    const account = who();
    const [command, argv] = account
      ? asAccount(account, path.join(root, 'bin', 'openclaw'), args)
      : [path.join(root, 'bin', 'openclaw'), args];
    // The service's compiled code too (writeOpenclawService): not in env(), which our own CLI is run with as well.
    const compiled = { NODE_COMPILE_CACHE: openclawCompileCache(account), ...env() };
    return execa(command, argv, {
      env: account ? accountCliEnv(account, compiled) : cliEnv(compiled),
      cwd: account ? accountCwd(account) : undefined, // the account's own folder, not the test process's checkout
      extendEnv: false,
      reject: false,
      timeout: timeoutMs,
    });
  };
  const pluginSeen = async (id: string) => {
    const inspected = await openclawCli(['plugins', 'inspect', id, '--json']);
    const stdout = String(inspected.stdout);
    const at = stdout.indexOf('{');
    expect(at, `plugins inspect: ${stdout.slice(-1500)}${String(inspected.stderr).slice(-1500)}`).toBeGreaterThan(-1);
    const plugin = JSON.parse(stdout.slice(at)).plugin;
    return { version: plugin?.version, status: plugin?.status };
  };
  return { openclawCli, pluginSeen };
}
