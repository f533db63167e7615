// A fixture gateway run as a real unit of a private systemd --user, managed by a release root.
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { expect, inject } from 'vitest';
import { validateConfig } from '../../src/store/config.ts';
import { systemdUnit } from '../../src/unit-files/unit.ts';
import { CLI, cli, runnableBy, tempDir, type CliResult } from './cli.ts';
import type { UserManager } from './systemd.ts';

/** GET `path` on a fresh connection each time, its body as JSON: a pooled socket must not outlive the process it reached. */
export function getJson<T>(port: number, path: string): Promise<T> {
  return new Promise((done, fail) => {
    const request = get({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => {
        try {
          done(JSON.parse(body));
        } catch (error) {
          fail(error);
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', fail);
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => (port === 18789 ? freePort().then(resolve, reject) : resolve(port)));
    });
  });
}

export interface ManagedGateway {
  root: string;
  unit: string;
  port: number;
  log: string;
  /** The CLI with the manager's environment (so `systemctl --user` reaches it); `json: false`: what a person reads. */
  rs(
    args: string[],
    options?: { env?: Record<string, string>; json?: boolean; prefix?: readonly string[] },
  ): Promise<CliResult>;
  health(): Promise<{ status: number; version?: string } | null>;
}

export interface ManagedGatewayOptions {
  name: string;
  /** The package the root manages (one the test published with writeGateway's gateway). @default rs-fixture-gateway */
  package?: string;
  verifyTimeout?: number;
  stableFor?: number;
  /** More `init` flags, e.g. `--state-path`. */
  init?: string[];
  /** More `Environment=` lines for the unit, e.g. the fixture's STATE_DIR. */
  environment?: Record<string, string>;
  /** The unit's boot-check command from the default one (e.g. wrapped to arm a crash point). @default as is */
  bootCheck?: (command: string[]) => string[];
}

/**
 * The gateway as a unit of `manager`, and the CLI run as the manager's account (its root, logs and npm cache that
 * account's own) with the manager's environment.
 */
export async function managedGateway(manager: UserManager, options: ManagedGatewayOptions): Promise<ManagedGateway> {
  const as = manager.account;
  const root = join(tempDir('rs-svc-', as), 'root');
  const unit = `${options.name}.service`;
  const port = await freePort();
  const log = join(root, '..', `${options.name}.log`);
  const env = Object.fromEntries(
    Object.entries(manager.env).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
  const rs = (
    args: string[],
    extra: { env?: Record<string, string>; json?: boolean; prefix?: readonly string[] } = {},
  ) =>
    cli(['--root', root, ...(extra.json === false ? [] : ['--json']), ...args], {
      env: { ...env, ...extra.env },
      as,
      ...(extra.prefix && { prefix: extra.prefix }),
    });
  const init = await rs([
    'init',
    '--package',
    options.package ?? 'rs-fixture-gateway',
    '--registry',
    inject('registryUrl'),
    '--supervisor',
    'systemd',
    '--unit',
    unit,
    '--health-url',
    `http://127.0.0.1:${port}/health`,
    '--verify-timeout',
    String(options.verifyTimeout ?? 8),
    '--stable-for',
    String(options.stableFor ?? 4),
    ...(options.init ?? []),
  ]);
  if (init.exitCode !== 0) throw new Error(`init: ${init.stdout}${init.stderr}`);
  const config = validateConfig(JSON.parse(readFileSync(join(root, 'config.json'), 'utf8')), 'config.json');
  // The unit release-switcher itself writes (boot-check, Restart=always, no start limit, exit 78 kept),
  // with a short stop timeout so the SIGTERM-ignoring release costs seconds, not half a minute.
  // The boot-check of the built CLI (this file imports src/, whose own path would name src/cli/main.js).
  const { node, cli: main } = as ? runnableBy(as) : { node: process.execPath, cli: CLI };
  const defaultBootCheck = [node, main, '--root', root, 'boot-check'];
  const bootCheck = options.bootCheck ? options.bootCheck(defaultBootCheck) : defaultBootCheck;
  let text = systemdUnit(config, root, {
    entry: 'server.js',
    args: ['--port', String(port)],
    drainSeconds: 1,
    scope: 'user',
    bootCheck,
  });
  text = text.replace(
    '[Service]\n',
    [
      '[Service]',
      `ExecStartPre=/usr/bin/test ! -e ${root}/current/refuse-start`,
      `Environment=RS_CLI=${JSON.stringify(JSON.stringify([node, main]))}`,
      `Environment=RS_ROOT=${root}`,
      ...Object.entries(options.environment ?? {}).map(
        ([name, value]) => `Environment=${JSON.stringify(`${name}=${value}`)}`,
      ),
      `Environment=npm_config_cache=${join(root, '..', 'npm-cache')}`,
      `StandardOutput=append:${log}`,
      `StandardError=append:${log}`,
      'RestartSec=500ms',
      '',
    ].join('\n'),
  );
  await manager.writeUnit(unit, text);
  return {
    root,
    unit,
    port,
    log,
    rs,
    async health() {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await response.json().catch(() => ({}))) as { version?: string };
        return { status: response.status, version: body.version };
      } catch {
        return null;
      }
    },
  };
}

/** The gateway's main PID, as its manager reports it. */
export async function mainPidOf(manager: UserManager, gw: ManagedGateway): Promise<number> {
  return Number((await manager.systemctl(['show', '-p', 'MainPID', '--value', gw.unit])).stdout.trim());
}

/** The release the gateway's root names `current`. */
export async function currentOf(gw: ManagedGateway): Promise<string | null> {
  return (await gw.rs(['status'])).json.result.current;
}

/**
 * A gateway a stopped rollout never reached (`update --all`, a playbook): the same process `pid`, `version` current,
 * and the release the canary failed on (`never`) not even installed.
 */
export async function expectUntouched(
  manager: UserManager,
  gw: ManagedGateway,
  was: { pid: number; version: string; never: string },
): Promise<void> {
  expect(await mainPidOf(manager, gw)).toBe(was.pid);
  expect(await currentOf(gw)).toBe(was.version);
  expect((await gw.rs(['list'])).json.result.releases.map((rel: { version: string }) => rel.version)).not.toContain(
    was.never,
  );
}
