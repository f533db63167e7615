// OpenClaw's official Ansible role's install shape on the real package (2026.9.5 → 2026.9.6 from the registry), end to
// end: the role's system unit verbatim (User=<service account>, NoNewPrivileges, PrivateTmp, ProtectSystem=strict,
// ProtectHome=read-only, ReadWritePaths=~/.openclaw ~/.local, ExecStart=openclaw gateway) under a private systemd
// system manager, openclaw installed as the role installs it (`pnpm install -g openclaw@…` as the service account,
// PNPM_HOME=~/.local/share/pnpm), the port only in ~/.openclaw/openclaw.json. Then every shape's lifecycle
// (openclaw-shapes.ts), --link-bin over pnpm's shim on the role's PATH included.
//
// Who runs release-switcher: the service account itself, on a root of its own under ~/.local, as the operator of a
// hardened gateway does (`sudo -u openclaw release-switcher …`): nothing of the gateway's becomes root's, and its
// restarts go through the role's own sudoers lines (`sudo systemctl restart openclaw`), verbatim. Only installing the
// drop-in needs root (/etc/systemd/system is root's), once: `sudo release-switcher --root <the account's root> unit
// --install`, which writes the drop-in the account's own `unit` prints (its boot-check runs as the account).
//
// What the test bed adds to the role, and why:
// - Everything runs inside the manager's namespaces (sm.run): the CLI reads the gateway's /proc/<pid> and the unit's
//   PIDs as its manager numbers them. The account's home there is a private folder bound over its real one
//   (privateHome): the gateway's whole ~/.openclaw and pnpm's store never touch the real home, which other files
//   share, and go with the manager.
// - `openclaw` on systemd's compiled-in path (ExecStart's bare name is looked up there, not on the unit's PATH;
//   ansible-unit.ts): /usr/local/sbin/openclaw links to the package's own command file, `$(pnpm root -g)/openclaw/
//   openclaw.mjs`, as npm links a command and OpenClaw's container image links it into /usr/local/bin. Not to pnpm's
//   shim: the shim finds its package from its own folder (`dirname "$0"`), so through a link from elsewhere it runs
//   nothing.
// - Node (and npm beside it) in ~/.local/bin, first on the role's PATH: the role installs its Node into /usr/bin from
//   NodeSource; here /usr/bin/node is the machine's Node 20, which openclaw refuses.
// - ReadWritePaths=~/.cache ~/.npm, which the role's sandbox leaves read-only and openclaw 2026.9 writes: its SQLite
//   temp folder is ~/.cache/openclaw (XDG_CACHE_HOME; without it the gateway exits at once, "Unable to create fallback
//   OpenClaw temp dir: ~/.cache/openclaw-<uid>", and Restart=always retries it forever), and `plugins install` runs npm
//   in the gateway, whose cache is ~/.npm (EROFS). An operator of the role's unit must add them too.
// - No D-Bus system bus in the test bed: a non-root `systemctl` inside the unit (the boot-check, as the account) cannot
//   ask the manager, so the boot-check says so and lets the gateway start; on a real machine any account may read.
// - docker.service (Requires=) is a stand-in; StandardOutput=journal has no journald here: a drop-in appends the
//   gateway's output to a file; NODE_EXTRA_CA_CERTS (this machine's TLS proxy) in that drop-in when set.
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { ensureServiceNode } from '../../bench/lib/node24.mjs';
import { type Account, processUids, serviceAccount } from '../support/accounts.ts';
import { ROLE_UNIT_NAME } from '../support/ansible-unit.ts';
import type { CliResult } from '../support/cli.ts';
import { openclawHealthy } from '../support/openclaw.ts';
import {
  FROM,
  type LifecycleBench,
  shapeConfig,
  shapeLifecycle,
  shapesRunHere,
  SHAPE_CASE_MS,
  SHAPE_CALL_MS,
} from '../support/openclaw-shapes.ts';
import { freePort } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { type SystemManager, startSystemManager } from '../support/system-manager.ts';
import {
  accountSystemctlInside,
  canRunRoleBed,
  installRoleUnit,
  nodeForService,
  ownedDirs,
  packageFor,
  privateHome,
} from '../support/system-manager-client.ts';

/** Folders of the home openclaw 2026.9 writes that the role's sandbox leaves read-only (see the header). */
const SANDBOX_WRITABLE = ['.cache', '.npm'];

/** stdout as the JSON envelope, when it is JSON. */
function parsed(stdout: string): any {
  try {
    return JSON.parse(stdout);
  } catch {
    return undefined;
  }
}

/** The systemd path the CLI and the tools also search, after the account's own folders. */
const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

describeWhere(
  shapesRunHere(canRunRoleBed()),
  "OpenClaw's Ansible role on the real openclaw (its system unit verbatim, pnpm -g, the service account itself)",
  () => {
    let sm: SystemManager;
    let who: Account;
    let installed: string;
    let bench: LifecycleBench;
    /** Our CLI on the account's root as root (an operator's `sudo release-switcher …`). */
    let rsAsRoot: (args: string[]) => Promise<CliResult>;
    let node: string;
    let log: string;
    /** A path of the account's home as the manager's namespaces (the unit, the CLI) see it. */
    const inside = (...rel: string[]) => path.join(who.home, ...rel);

    beforeAll(async () => {
      console.log(`load average at start: ${loadavg()[0]!.toFixed(1)}`);
      who = serviceAccount();
      sm = await startSystemManager({ name: 'oc-role' });
      const home = await privateHome(sm, who);
      const srv = path.join(sm.base, 'srv');
      ownedDirs({ ...who, home }, '.openclaw', '.local/bin', '.local/share/pnpm', ...SANDBOX_WRITABLE);
      mkdirSync(srv, { mode: 0o755 });
      chmodSync(srv, 0o755);
      const main = packageFor(who, path.join(srv, 'package'));
      const pnpm = path.resolve(main, '../../..', 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
      node = nodeForService(who, srv, { node: (await ensureServiceNode()).node, withNpm: true });
      // As NodeSource lays them out in /usr/bin: `node`, and `npm` a link to npm's own script.
      symlinkSync(node, path.join(home, '.local', 'bin', 'node'));
      symlinkSync(
        path.join(path.dirname(path.dirname(node)), 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
        path.join(home, '.local', 'bin', 'npm'),
      );
      const port = await freePort();
      log = path.join(srv, 'gateway.log');
      const ca = process.env.NODE_EXTRA_CA_CERTS;
      // The environment of the role's tasks (openclaw-release.yml): its PATH, PNPM_HOME, HOME.
      const roleEnv = {
        HOME: who.home,
        PNPM_HOME: inside('.local/share/pnpm'),
        PATH: [inside('.local/bin'), inside('.local/share/pnpm/bin'), inside('.local/share/pnpm'), ...SYSTEM_PATH].join(
          ':',
        ),
        npm_config_update_notifier: 'false',
        ...(ca ? { NODE_EXTRA_CA_CERTS: ca } : {}),
      };
      const asAccount = (command: string, args: string[], extra: Record<string, string> = {}, timeoutMs = 900_000) =>
        sm.run(command, args, { as: who, env: { ...roleEnv, ...extra }, cwd: who.home, timeoutMs });

      const started = Date.now();
      const added = await asAccount(inside('.local/bin/node'), [pnpm, 'install', '-g', `openclaw@${FROM}`], {
        CI: 'true',
      });
      expect(added.exitCode, added.stdout.slice(-2000) + added.stderr.slice(-2000)).toBe(0);
      installed = path.join(
        (await asAccount(inside('.local/bin/node'), [pnpm, 'root', '-g'])).stdout.trim(),
        'openclaw',
      );
      console.log(`pnpm install -g openclaw@${FROM} as ${who.name}: ${Date.now() - started} ms; ${installed}`);

      await installRoleUnit(sm, who, path.join(installed, 'openclaw.mjs'), { home });
      writeFileSync(path.join(home, '.openclaw', 'openclaw.json'), shapeConfig(port));
      // The account's, as the rest of its home: the gateway rewrites its own config.
      chownSync(path.join(home, '.openclaw', 'openclaw.json'), who.uid, who.gid);
      await sm.writeDropIn(
        ROLE_UNIT_NAME,
        '00-test',
        [
          '[Service]',
          `StandardOutput=append:${log}`,
          `StandardError=append:${log}`,
          ...SANDBOX_WRITABLE.map((dir) => `ReadWritePaths=${inside(dir)}`),
          ...(ca ? [`Environment=NODE_EXTRA_CA_CERTS=${ca}`] : []),
          '',
        ].join('\n'),
      );
      const insideBin = await accountSystemctlInside(sm, who);

      const service = {
        unit: ROLE_UNIT_NAME,
        systemctl: (args: string[], opts?: { timeoutMs?: number }) => sm.systemctl(args, opts),
        hostPid: () => sm.mainPid(ROLE_UNIT_NAME),
        readLog: async () =>
          `${await sm.readLog()}\n--- gateway output ---\n${await readFile(log, 'utf8').catch(() => '')}`,
      };
      const root = inside('.local', 'share', 'release-switcher', 'openclaw');
      const cliEnv = { ...roleEnv, PATH: `${insideBin}:${roleEnv.PATH}` };
      rsAsRoot = async (args) => {
        const r = await sm.run(node, [main, '--root', root, '--json', ...args], {
          env: {
            HOME: '/root',
            PATH: SYSTEM_PATH.join(':'),
            // Root's pinned copy of release-switcher (src/tool/) where root's would be, /var/lib, beside the manager:
            // root's and readable by the account, whose boot-check runs it (the root is the account's own), outside the
            // /tmp the role's PrivateTmp= hides; never the host's /var/lib/release-switcher/tool.
            RELEASE_SWITCHER_TOOL_HOME: path.join(sm.base, 'tool-home-root'),
            // init as root adds to the run's list of roots (vitest.config.ts), not the machine's
            ...(process.env.RELEASE_SWITCHER_SYSTEM_ROOTS && {
              RELEASE_SWITCHER_SYSTEM_ROOTS: process.env.RELEASE_SWITCHER_SYSTEM_ROOTS,
            }),
          },
          timeoutMs: 120_000,
        });
        return { ...r, json: parsed(r.stdout) };
      };
      bench = {
        root,
        port,
        service,
        rs: async (args): Promise<CliResult> => {
          const r = await sm.run(inside('.local/bin/node'), [main, '--root', root, '--json', ...args], {
            as: who,
            env: cliEnv,
            cwd: who.home,
            timeoutMs: SHAPE_CALL_MS,
          });
          return { ...r, json: parsed(r.stdout) };
        },
        asUser: (command, args, extra) => asAccount(command, args, extra),
        seen: (file) => (file.startsWith(`${who.home}/`) ? path.join(home, path.relative(who.home, file)) : file),
        state: path.join(who.home, '.openclaw'), // the role's: the service account's home, as its unit sees it
      };

      expect((await sm.systemctl(['start', ROLE_UNIT_NAME])).exitCode).toBe(0);
      const up = await openclawHealthy(service, { port, pid: null, timeoutMs: 300_000 });
      expect(up.version).toBe(FROM);
      expect(processUids(await service.hostPid())).toEqual([who.uid, who.uid, who.uid, who.uid]);
    }, 1_800_000);
    afterAll(() => sm?.stop(), 600_000);
    beforeEach(({ onTestFailed }) => {
      onTestFailed(async () => console.error(`--- manager log ---\n${await bench?.service.readLog()}`));
    });

    it(
      'the account adopts pnpm’s install, the drop-in keeps the config’s port, update with a plugin, rollback, doctor',
      async () => {
        const run = await shapeLifecycle(bench, {
          installed,
          unit: 'openclaw', // as the role's sudoers lines name it: `sudo systemctl restart openclaw`, word for word
          initFlags: ['--supervisor', 'systemd-system'],
          command: inside('.local/share/pnpm/openclaw'), // pnpm's shim, on the role's PATH: stale until --link-bin
          staleOnPath: true,
          unitCommand: 'openclaw',
          entry: 'openclaw.mjs',
          node: path.join(who.home, '.local', 'bin', 'node'),
          adopted: (adopted, config) => {
            // The role's unit as it is (`openclaw gateway`), and the account it runs as, learnt from its User=.
            expect(adopted.found.execStart).toEqual(['openclaw', 'gateway']);
            expect(config).toMatchObject({ supervisor: 'systemd-system', unit: 'openclaw', serviceUser: who.name });
            // pnpm's folder holds none of its dependencies: staged from the registry and proven, file by file.
            expect(adopted.restaged).toMatchObject({
              why: expect.stringContaining('is outside it'),
              integrity: expect.any(String),
            });
            expect(adopted.restaged.proven).toBeGreaterThan(1000);
          },
          // /etc/systemd/system is root's: the account's `unit --install` is refused with the fix (run it as root), and
          // root's, on the account's root, writes the drop-in the account prints, leaving nothing of root's in the root.
          installUnit: async () => {
            const denied = await bench.rs(['unit', '--install']);
            expect(denied.exitCode, denied.stdout).not.toBe(0);
            expect(denied.json.error).toMatchObject({
              code: 'PERMISSION_DENIED',
              hint: expect.stringContaining('sudo'),
            });
            const printed = await bench.rs(['unit']);
            expect(printed.exitCode, printed.stdout + printed.stderr).toBe(0);
            const byRoot = await rsAsRoot(['unit', '--install']);
            expect(byRoot.exitCode, byRoot.stdout + byRoot.stderr).toBe(0);
            // The drop-in the account printed, but for the pinned copy its boot-check runs: root's (root's files, which
            // the account may run and not change), not the account's own, which root would have to make as the account.
            const toolOf = (content: string) => /ExecStartPre=-(\S+)\/node /.exec(content)?.[1];
            expect(toolOf(byRoot.json.result.content)).toBe(path.join(sm.base, 'tool-home-root', 'current'));
            expect(byRoot.json.result).toMatchObject({
              installed: true,
              content: printed.json.result.content.replaceAll(
                toolOf(printed.json.result.content)!,
                toolOf(byRoot.json.result.content)!,
              ),
            });
            expect(byRoot.json.result.content).toContain(`ReadWritePaths=-${bench.root}\n`); // its boot-check writes it
            const rootOwned = await sm.run('find', [bench.root, '-uid', '0']);
            expect(rootOwned.stdout).toBe('');
            return byRoot;
          },
        });
        console.log(
          `role shape timings (ms): ${JSON.stringify(run.timings)}; load average ${loadavg()[0]!.toFixed(1)}`,
        );
      },
      SHAPE_CASE_MS,
    );
  },
);
