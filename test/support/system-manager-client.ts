// Our CLI runs on the host, as root or as the service account, and calls plain `systemctl …`, `systemd-run …` and
// `sudo systemctl …`; a private system manager (system-manager.ts) answers only inside its namespaces. clientBin()
// makes wrappers with those names to put first on the CLI's PATH (`env()`), each reaching the manager as the real
// tool would reach the machine's own:
// - root: `systemctl` and `systemd-run` are the real ones run through `nsenter -t <pid> -m -p`;
// - another account: what it has on a real machine without polkit. Reading (`show`, `status`, `is-active`, `cat`,
//   `list-*`) works, as D-Bus lets every account read (here through sudo and a root helper that lets nothing else
//   through); changing anything fails "Access denied" (exit 4); `systemd-run` finds no bus (exit 1);
// - `sudo systemctl …` (or /usr/bin/systemctl): the real sudo, checking the role's sudoers lines (ansible-unit.ts),
//   installed with the wrapper's root systemctl in place of /usr/bin/systemctl: `sudo systemctl restart openclaw`
//   works for the service account, `sudo systemctl kill openclaw` does not. Other sudo commands pass through unchanged.
// The sudoers file is /etc/sudoers.d/rs-sysmgr-<pid>-… (no dot: sudo skips names with one), removed by stop() and by
// the stale sweep. Called by absolute path (/usr/bin/sudo, /usr/bin/systemctl) the wrappers are bypassed: the product
// must find these tools through PATH for the test bed to reach it.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { type Account, canUseAccounts, reachableBy } from './accounts.ts';
import { DOCKER_STUB, ROLE_UNIT_NAME, roleSudoers, roleUnit } from './ansible-unit.ts';
import { CLI } from './cli.ts';
import { canRunSystemManager } from './system-manager.ts';
import type { SystemManager } from './system-manager-handle.ts';
import type { Where } from './skip.ts';

/**
 * Whether the role's test bed runs here: a private system manager, test accounts, and sudo (the service account
 * restarts its unit through the role's sudoers lines; not in a minimal Debian).
 */
export function canRunRoleBed(): Where {
  const manager = canRunSystemManager();
  if (!manager.ok) return manager;
  if (!existsSync('/usr/bin/sudo'))
    return {
      ok: false,
      why: 'sudo is not installed (the service account restarts its unit through sudo, as the role lets it)',
      where: 'in CI, whose .ci/run installs sudo',
    };
  return canUseAccounts();
}

export interface ClientBin {
  /** The folder of wrappers: `systemctl`, `systemd-run`, `sudo`. */
  bin: string;
  /** The root systemctl that the sudoers lines name in place of /usr/bin/systemctl. */
  rootSystemctl: string;
  /** The sudoers file installed, if any. */
  sudoersFile: string | undefined;
  /** An environment whose PATH has the wrappers first (the test process's PATH after them). */
  env(extra?: Record<string, string>): Record<string, string>;
}

export interface ClientOptions {
  /** Accounts that may read the manager's state (`systemctl show`…) without sudo, as on any real machine. */
  readers?: Account[];
  /** sudoers lines (e.g. roleSudoers(account, rootSystemctl)) installed for the life of the manager. */
  sudoers?: (rootSystemctl: string) => string;
}

const PACKAGE_DIR = path.resolve(import.meta.dirname, '../..');
const READ_VERBS = 'show|status|is-active|is-failed|is-enabled|cat|list-units|list-unit-files|list-dependencies';

function script(file: string, text: string): void {
  writeFileSync(file, `#!/bin/bash\n${text}\n`, { mode: 0o755 });
  chmodSync(file, 0o755);
}

/** The wrappers for `sm` (once per manager), and the sudoers lines `opts.sudoers` names. */
export async function clientBin(sm: SystemManager, opts: ClientOptions = {}): Promise<ClientBin> {
  const dir = path.join(sm.base, 'client');
  const bin = path.join(dir, 'bin');
  const sbin = path.join(dir, 'sbin');
  mkdirSync(bin, { recursive: true, mode: 0o755 });
  mkdirSync(sbin, { recursive: true, mode: 0o755 });
  const enter = `/usr/bin/nsenter -t ${sm.pid} -m -p --`;
  const rootSystemctl = path.join(sbin, 'systemctl');
  const readSystemctl = path.join(sbin, 'systemctl-read');
  script(rootSystemctl, `exec ${enter} /usr/bin/systemctl "$@"`);
  // Lets through only what an unprivileged account may ask a real system manager: the first word that is no option.
  script(
    readSystemctl,
    `for arg in "$@"; do case "$arg" in -*) ;; ${READ_VERBS}) exec ${enter} /usr/bin/systemctl "$@" ;; *) break ;; esac; done
echo "Failed to $arg \${@: -1}: Access denied" >&2; exit 4`,
  );
  script(
    path.join(bin, 'systemctl'),
    `[ "$(id -u)" = 0 ] && exec ${rootSystemctl} "$@"
exec /usr/bin/sudo -n ${readSystemctl} "$@"`,
  );
  script(
    path.join(bin, 'systemd-run'),
    `[ "$(id -u)" = 0 ] && exec ${enter} /usr/bin/systemd-run "$@"
echo "Failed to connect to bus: No such file or directory" >&2; exit 1`,
  );
  // sudo's own options, then the command: a systemctl command is sent to this manager's root systemctl.
  script(
    path.join(bin, 'sudo'),
    `opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) opts+=("$1"); shift; break ;;
    -u|-g|-p|-C|-D|-h|-r|-t|-T|-U) opts+=("$1" "$2"); shift 2 ;;
    -*) opts+=("$1"); shift ;;
    *) break ;;
  esac
done
case "$1" in systemctl|/usr/bin/systemctl|/bin/systemctl) shift; set -- ${rootSystemctl} "$@" ;; esac
exec /usr/bin/sudo "\${opts[@]}" "$@"`,
  );
  const lines = [
    ...(opts.readers ?? []).map((who) => `${who.name} ALL=(root) NOPASSWD: ${readSystemctl} *`),
    opts.sudoers?.(rootSystemctl) ?? '',
  ].join('\n');
  const sudoersFile = lines.trim() ? await installSudoers(sm, `${lines}\n`) : undefined;
  return {
    bin,
    rootSystemctl,
    sudoersFile,
    env: (extra = {}) => ({ PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...extra }),
  };
}

/** Checked by visudo before sudo ever reads it (a broken file in sudoers.d breaks every sudo on the machine). */
async function installSudoers(sm: SystemManager, text: string): Promise<string> {
  if (!existsSync('/usr/sbin/visudo')) throw new Error('sudo is not installed (.ci/run installs it)');
  const file = path.join('/etc/sudoers.d', path.basename(sm.base));
  const staged = path.join(sm.base, 'client', 'sudoers.staged');
  writeFileSync(staged, text, { mode: 0o440 });
  const check = await execa('/usr/sbin/visudo', ['-cf', staged], { reject: false, timeout: 10_000 });
  if (check.exitCode !== 0) throw new Error(`sudoers lines refused by visudo: ${check.stderr}${check.stdout}\n${text}`);
  writeFileSync(`${file}.tmp`, text, { mode: 0o440 }); // a name with a dot: sudo skips it until the rename
  renameSync(`${file}.tmp`, file);
  sm.atStop(() => rmSync(file, { force: true }));
  return file;
}

/**
 * A Node that `who` can run from inside a unit with `PrivateTmp=true`: `node` (the test process's own unless named) where
 * it is, when that is open to `who` and not under /tmp or /var/tmp, else a copy in `dir` (hardlinked where it can be):
 * the binary alone, or with `withNpm` its whole folder (`bin/node`, `lib/node_modules/npm`), so that npm is beside it.
 */
export function nodeForService(who: Account, dir: string, options: { node?: string; withNpm?: boolean } = {}): string {
  const own = options.node ?? process.execPath;
  const hidden = ['/tmp/', '/var/tmp/'].some((prefix) => own.startsWith(prefix));
  if (!hidden && reachableBy(who, own)) return own;
  const from = options.withNpm ? path.dirname(path.dirname(own)) : own;
  const copy = path.join(dir, options.withNpm ? 'node-home' : 'node');
  // cp -a keeps the mode; --link avoids 100 MB of copying where both are on one file system.
  if (spawnSync('cp', ['-a', '--link', from, copy]).status !== 0) execFileSync('cp', ['-a', from, copy]);
  return options.withNpm ? path.join(copy, 'bin', path.basename(own)) : copy;
}

/**
 * The built package (its CLI, `dist/cli/main.js`) where the manager's namespaces see it (not under /tmp, whose manager's
 * view is its own) and `who` may read it, else a copy in `dir` (the package's node_modules, pnpm among them, with it).
 */
export function packageFor(who: Account, dir: string): string {
  if (!PACKAGE_DIR.startsWith('/tmp/') && reachableBy(who, CLI)) return CLI;
  mkdirSync(dir, { mode: 0o755 });
  for (const entry of ['dist', 'node_modules', 'package.json', 'layout']) {
    const from = path.join(PACKAGE_DIR, entry);
    if (spawnSync('cp', ['-a', '--link', from, dir]).status !== 0) execFileSync('cp', ['-a', from, dir]);
  }
  return path.join(dir, 'dist', 'cli', 'main.js');
}

/**
 * `systemctl` for `who` when it runs a command inside the manager's namespaces (sm.run): reading (`show`, `status`,
 * `cat`…) passes through a root helper, as D-Bus lets every account read a system unit; changing anything goes only
 * through the role's sudoers lines, verbatim (inside, /usr/bin/systemctl reaches this manager), installed for the life
 * of the manager. Returns the folder to put first on its PATH.
 */
export async function accountSystemctlInside(sm: SystemManager, who: Account): Promise<string> {
  const bin = path.join(sm.base, 'inside-bin');
  const read = path.join(sm.base, 'systemctl-read');
  mkdirSync(bin, { recursive: true, mode: 0o755 });
  script(
    read,
    `for a; do case "$a" in -*) ;; ${READ_VERBS}) exec /usr/bin/systemctl "$@" ;; *) break ;; esac; done
echo "Access denied" >&2; exit 4`,
  );
  script(
    path.join(bin, 'systemctl'),
    `[ "$(id -u)" = 0 ] && exec /usr/bin/systemctl "$@"
exec /usr/bin/sudo -n ${read} "$@"`,
  );
  await clientBin(sm, { sudoers: () => `${roleSudoers(who)}\n${who.name} ALL=(root) NOPASSWD: ${read} *` });
  return bin;
}

/**
 * A home of `who`'s own for this manager only: a folder under the manager's (the account's, 0750, as useradd makes it)
 * bound over `who.home` inside its namespaces. What the service and its tools write there (a gateway's whole
 * `~/.openclaw`, pnpm's global folder and store) never touches the account's real home, which other test files share,
 * and goes with sm.stop(). Returns the folder's path on the host; inside, it is `who.home`.
 */
export async function privateHome(sm: SystemManager, who: Account): Promise<string> {
  const home = path.join(sm.base, 'home');
  mkdirSync(home, { mode: 0o750 });
  chownSync(home, who.uid, who.gid);
  const bind = await execa('nsenter', ['-t', String(sm.pid), '-m', 'mount', '--bind', home, who.home], {
    reject: false,
    timeout: 10_000,
  });
  if (bind.exitCode !== 0) throw new Error(`cannot bind ${home} over ${who.home}: ${bind.stderr}`);
  return home;
}

/** Folders `who` owns below its home (mode 0755 each, as the role makes them); made when missing. */
export function ownedDirs(who: Account, ...relative: string[]): string[] {
  return relative.map((rel) => {
    const dir = path.join(who.home, rel);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    // Every folder from the home down is the account's, as the role's tasks make them.
    for (let d = dir; d.startsWith(`${who.home}/`); d = path.dirname(d)) chownSync(d, who.uid, who.gid);
    return dir;
  });
}

/**
 * Installs the role's unit, verbatim, for `who` in `sm`: the docker.service it requires (a stand-in), the folders its
 * ReadWritePaths name (a missing one fails the start with 226/NAMESPACE), and `openclaw` linked to `command` where
 * systemd 252 finds a bare ExecStart name (see ansible-unit.ts). `home`: where the account's home is on the host (its
 * privateHome, else its own). Returns the unit's name.
 */
export async function installRoleUnit(
  sm: SystemManager,
  who: Account,
  command: string,
  { home = who.home }: { home?: string } = {},
): Promise<string> {
  ownedDirs({ ...who, home }, '.openclaw', '.local/bin', '.local/share/pnpm');
  await sm.linkCommand('openclaw', command);
  await sm.writeUnit('docker.service', DOCKER_STUB);
  await sm.writeUnit(ROLE_UNIT_NAME, roleUnit(who));
  return ROLE_UNIT_NAME;
}

/** What `cliInside` returns: the command's result, its `--json` document (undefined when not JSON) and a label. */
export type CliInsideResult = Awaited<ReturnType<SystemManager['run']>> & { json: any; said: string };

/**
 * The built CLI (`main`, on `node`) inside `sm`'s namespaces, with `--root` and `--json`: as root, or as `as` with its
 * own HOME. npm's cache and config live in `home` (a folder of the caller's); `pathFirst` goes before Node's folder
 * on PATH (a `systemctl` for the account's own CLI), then the secure path.
 */
export async function cliInside(
  sm: SystemManager,
  at: {
    node: string;
    main: string;
    root: string;
    home: string;
    as?: Account | undefined;
    pathFirst?: string | undefined;
  },
  args: string[],
): Promise<CliInsideResult> {
  const env = {
    HOME: at.as ? at.as.home : at.home,
    PATH: `${at.pathFirst ? `${at.pathFirst}:` : ''}${path.dirname(at.node)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    npm_config_cache: path.join(at.home, 'npm-cache'),
    npm_config_userconfig: path.join(at.home, 'npmrc'),
    npm_config_update_notifier: 'false',
    // init as root adds the root to the host's list: the run's own (vitest.config.ts), not the machine's.
    RELEASE_SWITCHER_SYSTEM_ROOTS: process.env.RELEASE_SWITCHER_SYSTEM_ROOTS ?? path.join(at.home, 'system-roots.json'),
    // release-switcher's pinned copy (src/tool/): root's beside its home here, not under /tmp, which a unit with
    // PrivateTmp= does not see (a boot-check root writes for a root the account keeps runs as the account, sandboxed),
    // nor the host's /var/lib/release-switcher/tool; an account's is its default under its home.
    ...(at.as ? {} : { RELEASE_SWITCHER_TOOL_HOME: toolHomeInside(at.home) }),
  };
  const r = await sm.run(at.node, [at.main, '--root', at.root, '--json', ...args], {
    env,
    timeoutMs: 120_000,
    ...(at.as && { as: at.as }),
  });
  let json: any;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { ...r, json, said: `${args[0]}: ${r.stdout}${r.stderr}` };
}

/** Root's tool home for the CLI run inside a manager with `home` as its HOME (cliInside). */
export const toolHomeInside = (home: string): string => path.join(home, 'tool-home');

/**
 * Root's tool home inside a manager made readable by every account up to `/`, as the default
 * /var/lib/release-switcher/tool is: what the boot-check of a root the account keeps itself runs (unit refuses a copy
 * the account cannot reach).
 */
export function openRootsToolHome(home: string): void {
  for (let dir = toolHomeInside(home); dir !== '/'; dir = path.dirname(dir)) {
    const mode = statSync(dir).mode & 0o7777;
    if ((mode & 0o005) !== 0o005) chmodSync(dir, mode | 0o005);
  }
}

/** The fixture gateway's health on `port` (its JSON), or null when nothing answers within 2 s. */
export async function healthOn(port: number): Promise<{ version?: string } | null> {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
  return res ? ((await res.json().catch(() => ({}))) as { version?: string }) : null;
}

/** The role bed's parts where `sm` and `who` may reach them (roleBed). */
export interface RoleBed {
  port: number;
  /** Node and the built CLI as `who` can run them, under `<sm.base>/srv` (root's, 0755). */
  node: string;
  main: string;
  /** Where the root goes (`<sm.base>/srv/root`) and the gateway's output file. */
  root: string;
  log: string;
}

/**
 * The role's unit for `who` under `sm`, verbatim (its `openclaw` command never runs: a drop-in replaces ExecStart),
 * its output appended to a file; root's HOME for the CLI (`<sm.base>/home-root`, an empty npmrc); a free port. Releases
 * installed as root carry the immutable attribute: cleared before stop() removes the manager's folder.
 */
export async function roleBed(
  sm: SystemManager,
  who: Account,
  options: { port: number; home?: string },
): Promise<RoleBed> {
  sm.atStop(() => void spawnSync('chattr', ['-R', '-f', '-i', path.join(sm.base, 'srv')]));
  const srv = path.join(sm.base, 'srv');
  mkdirSync(srv, { mode: 0o755 });
  chmodSync(srv, 0o755);
  const bed = {
    port: options.port,
    node: nodeForService(who, srv),
    main: packageFor(who, path.join(srv, 'package')),
    root: path.join(srv, 'root'),
    log: path.join(srv, 'gateway.log'),
  };
  mkdirSync(path.join(sm.base, 'home-root'), { mode: 0o700 });
  writeFileSync(path.join(sm.base, 'home-root', 'npmrc'), '');
  await installRoleUnit(sm, who, '/bin/false', options.home ? { home: options.home } : {});
  await sm.writeDropIn(
    ROLE_UNIT_NAME,
    '00-test-log',
    `[Service]\nStandardOutput=append:${bed.log}\nStandardError=append:${bed.log}\n`,
  );
  return bed;
}
