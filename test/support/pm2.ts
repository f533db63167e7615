// A root served by a real pm2 app, for the end-to-end pm2 suites (pm2-switch, pm2-preflight): the
// operator's first steps (install, activate a release on disk, hand the root to pm2, start the app
// through current/) done once, with a private pm2 daemon killed when the suite ends.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { expect, inject } from 'vitest';
import { run } from '../../src/platform/subprocess.ts';
import { type Account, accountOrDefault, accountTempDir, asAccount } from './accounts.ts';
import { accountCliEnv, accountCwd, type CliResult, cli, runnableBy, tempDir } from './cli.ts';
import { freePort } from './service.ts';

const PM2 = resolve(import.meta.dirname, '../../node_modules/.bin/pm2');

/**
 * pm2 God daemons of `pm2Home` running now: their title says so (cut to the length of the command line they started
 * with, so not always with the whole PM2_HOME), their environment names it. Any pm2 command spawns one when none runs.
 */
export function godDaemons(pm2Home: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return (
          readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('God Daemon (') &&
          readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`PM2_HOME=${pm2Home}`)
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

export interface Pm2Gateway {
  root: string;
  port: number;
  /** The CLI on this root, `--json`, with the daemon's environment. */
  rs(args: string[]): Promise<CliResult>;
  /** The app's pid and pm2's restart count for it. */
  app(): Promise<{ pid: number; restarts: number }>;
  /** What the app answers on /health. */
  health(): Promise<{ version: string }>;
  /** Kill the daemon (its app with it), its home left. */
  kill(): Promise<void>;
  /** Kill the daemon, then remove its home. */
  stop(): Promise<void>;
  /** The daemon's PM2_HOME. */
  home: string;
  /** The account the daemon, the app and the CLI run as; `undefined`: the test process's own. */
  account: Account | undefined;
  /** The pm2 binary the account runs (the checkout's, or the copy made for accounts that cannot reach it). */
  pm2: string;
}

export interface Pm2GatewayOptions {
  /** pm2 app name; also the prefix of the temp folders. */
  app: string;
  /** Fixture versions to install; the first is activated before pm2 starts the app. */
  versions: string[];
  /** `init` arguments beyond supervisor, unit and health URL (verify timing, preflight…). */
  init: string[];
  /** Run the pm2 daemon, the app and the CLI as this account, on a root and a PM2_HOME it owns. @default the test process's own */
  as?: Account | null | undefined;
}

export async function pm2Gateway(options: Pm2GatewayOptions): Promise<Pm2Gateway> {
  const as = accountOrDefault(options.as);
  const prefix = `${options.app}-home-`;
  // Not tempDir(): pm2 kill must run before it goes.
  const home = as ? accountTempDir(as, prefix) : mkdtempSync(join(tmpdir(), prefix));
  const root = join(tempDir(`${options.app}-`, as), 'root');
  const port = await freePort();
  const bin = as ? join(runnableBy(as).packageDir, 'node_modules', '.bin', 'pm2') : PM2;
  // pm2 is a `#!/usr/bin/env node` script: the Node the account can run comes first on its PATH.
  const node = as ? `${dirname(runnableBy(as).node)}:` : '';
  const env = { PM2_HOME: home, PATH: `${dirname(bin)}:${node}${process.env.PATH}` };
  const rs = (args: string[]) => cli(['--root', root, '--json', ...args], { env, as });
  // Every pm2 call as the account: any of them, jlist included, spawns the daemon of PM2_HOME when none runs.
  const pm2Env = as ? accountCliEnv(as, env) : { ...process.env, ...env };
  const pm2Command = (args: string[]) => (as ? asAccount(as, bin, args) : ([bin, args] as const));
  const cwd = as ? accountCwd(as) : undefined; // pm2 spawns its daemon in its own cwd
  const pm2 = (args: string[]) => run(...pm2Command(args), { env: pm2Env, cwd, timeoutMs: 60_000 });
  const gateway: Pm2Gateway = {
    root,
    port,
    rs,
    account: as,
    pm2: bin,
    async app() {
      // stdout alone: run() interleaves stderr, where pm2 may warn.
      const jlist = await execa(...pm2Command(['jlist']), { env: pm2Env, extendEnv: false, cwd, timeout: 60_000 });
      const list = JSON.parse(jlist.stdout) as Array<{
        name: string;
        pid: number;
        pm2_env: { restart_time: number };
      }>;
      const found = list.find((p) => p.name === options.app)!;
      return { pid: found.pid, restarts: found.pm2_env.restart_time };
    },
    health: () => fetch(`http://127.0.0.1:${port}/health`).then((res) => res.json()),
    async kill() {
      const killed = await pm2(['kill']);
      expect(killed.exitCode, killed.output).toBe(0);
    },
    async stop() {
      await pm2(['kill']);
      rmSync(home, { recursive: true, force: true });
    },
    home,
  };
  try {
    await startApp(gateway, { ...options, port, pm2 });
  } catch (error) {
    // The caller gets no gateway to stop: its pm2 daemon and home go here.
    await gateway.stop().catch(() => {});
    throw error;
  }
  return gateway;
}

async function startApp(
  gateway: Pm2Gateway,
  options: Pm2GatewayOptions & { port: number; pm2: (args: string[]) => ReturnType<typeof run> },
): Promise<void> {
  const { rs, root } = gateway;
  const { port, pm2 } = options;
  expect((await rs(['init', '--package', 'rs-fixture-gateway', '--registry', inject('registryUrl')])).exitCode).toBe(0);
  for (const version of options.versions)
    expect((await rs(['install', `rs-fixture-gateway@${version}`])).exitCode).toBe(0);
  expect((await rs(['switch', options.versions[0]!])).json.result.status).toBe('switched');
  const init = await rs([
    'init',
    '--supervisor',
    'pm2',
    '--unit',
    options.app,
    '--health-url',
    `http://127.0.0.1:${port}/health`,
    ...options.init,
  ]);
  expect(init.exitCode, init.stdout).toBe(0);
  const started = await pm2([
    'start',
    join(root, 'current/server.js'),
    '--name',
    options.app,
    '--',
    '--port',
    String(port),
  ]);
  expect(started.exitCode, started.output).toBe(0);
}
