// The accounts our users run as, made real for the integration tiers: a normal account (the gateway under the
// user's own login, with a per-user systemd unit) and a service account (OpenClaw's Ansible role: `User=openclaw`).
// The suite creates them with useradd when it runs as root (CI does) and runs the CLI and the service as them; a
// case that is about root says so. Without root, the tests that need another account are skipped with that reason.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Account {
  name: string;
  uid: number;
  gid: number;
  /** Its home in the password database (a service unit's `User=` gets this as HOME). */
  home: string;
}

/** The normal account: a person's own login. */
export const NORMAL_ACCOUNT = 'rs-user';
/** The service account, as OpenClaw's Ansible role makes `openclaw`: a system account with a home. */
export const SERVICE_ACCOUNT = 'rs-openclaw';

let support: { ok: boolean; why?: string; where?: string } | undefined;

/** Whether this machine lets the suite make and become other accounts (root, Linux, useradd and setpriv). */
export function canUseAccounts(): { ok: boolean; why?: string; where?: string } {
  support ??= probe();
  return support;
}

function probe(): { ok: boolean; why?: string; where?: string } {
  const where = 'in CI, which runs the suite as root on Linux';
  if (process.platform !== 'linux') return { ok: false, why: `platform is ${process.platform}`, where };
  if (process.getuid?.() !== 0)
    return {
      ok: false,
      why: `not root (uid ${process.getuid?.()}): only root can create and become test accounts`,
      where,
    };
  const missing = ['/usr/sbin/useradd', '/usr/bin/setpriv'].filter((tool) => !existsSync(tool));
  if (missing.length > 0) return { ok: false, why: `missing ${missing.join(', ')}`, where };
  return { ok: true };
}

const cache = new Map<string, Account>();

/** The account `name`, created (with its home, 0750) when it does not exist yet. Root only. */
export function account(name: string, options: { system?: boolean } = {}): Account {
  const known = cache.get(name);
  if (known) return known;
  if (spawnSync('id', ['-u', name]).status !== 0) {
    const args = ['--create-home', '--shell', '/bin/bash', '--user-group'];
    if (options.system) args.push('--system', '--home-dir', `/home/${name}`);
    // Two test processes may create it at once: the loser's "already exists" (exit 9) is fine.
    const made = spawnSync('/usr/sbin/useradd', [...args, name], { encoding: 'utf8' });
    if (made.status !== 0 && made.status !== 9) throw new Error(`useradd ${name}: ${made.stderr}`);
  }
  const field = (flag: string) => execFileSync('id', [flag, name], { encoding: 'utf8' }).trim();
  const home = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim().split(':')[5]!;
  const found = { name, uid: Number(field('-u')), gid: Number(field('-g')), home };
  cache.set(name, found);
  return found;
}

export const normalAccount = (): Account => account(NORMAL_ACCOUNT);
/**
 * The service account, with the two folders of its home the role's unit names in ReadWritePaths= (a unit whose
 * ReadWritePaths= is missing does not start), as the role makes them. Made here, once, and never removed by a test:
 * files of several test processes share them, and a test that removed one it had made broke another's unit mid-run.
 */
export const serviceAccount = (): Account => {
  const made = account(SERVICE_ACCOUNT, { system: true });
  for (const [dir, mode] of [
    ['.openclaw', 0o700],
    ['.local', 0o755],
  ] as const) {
    const full = path.join(made.home, dir);
    if (existsSync(full)) continue;
    mkdirSync(full, { recursive: true, mode });
    chownSync(full, made.uid, made.gid);
  }
  return made;
};

/**
 * The command line that runs `command` as `who`: its uid, its gid and its supplementary groups (what a login or a
 * unit's `User=` gives it), nothing of root's. The environment is the caller's to give.
 */
export function asAccount(who: Account, command: string, args: readonly string[]): [string, string[]] {
  return [
    '/usr/bin/setpriv',
    ['--reuid', String(who.uid), '--regid', String(who.gid), '--init-groups', '--', command, ...args],
  ];
}

/** A temp folder owned by `who` (mode 0700), for its roots, homes and caches. The caller removes it. */
export function accountTempDir(who: Account, prefix: string): string {
  reachableRunTmp();
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  chownSync(dir, who.uid, who.gid);
  return dir;
}

/** A folder below one of `who`'s, made and owned by it. */
export function accountDir(who: Account, dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chownSync(dir, who.uid, who.gid);
  return dir;
}

/**
 * The run's temp folder is made by root with mode 0700; other accounts must be able to pass through it to the folders
 * made for them (never to list it): 0711.
 */
function reachableRunTmp(): void {
  const dir = tmpdir();
  if ((statSync(dir).mode & 0o011) !== 0o011) chmodSync(dir, statSync(dir).mode | 0o011);
}

/**
 * Whether `who` can read and run what lives at `file` (every folder on the way searchable for it): a checkout under
 * /root is not, and the suite then runs a copy of the built package (see runnableCopy in cli.ts).
 */
export function reachableBy(who: Account, file: string): boolean {
  const probe = spawnSync('/usr/bin/setpriv', asAccount(who, '/usr/bin/test', ['-r', file])[1], { timeout: 10_000 });
  return probe.status === 0;
}

/**
 * Why `who` cannot read `file`, or undefined when it can: the first folder on the way it may not pass through (its
 * mode and owner), else the file itself. A service of a test account that needs a file of the checkout fails at its
 * start with the real cause only in the manager's log (a checkout under /root or a `mktemp -d` is closed to other
 * accounts); a test that names this before it starts fails with the path, the account and the mode instead.
 */
export function unreachableReason(who: Account, file: string): string | undefined {
  // A path that does not exist (yet) is not a question of reach; a folder needs only to be passed through.
  if (!existsSync(file) || reachableBy(who, file)) return undefined;
  const parts = path.resolve(file).split('/').filter(Boolean);
  let blocking = statSync(file).isDirectory() ? undefined : path.resolve(file);
  for (let i = 1; i <= parts.length; i++) {
    const dir = `/${parts.slice(0, i).join('/')}`;
    const probe = spawnSync('/usr/bin/setpriv', asAccount(who, '/usr/bin/test', ['-x', dir])[1], { timeout: 10_000 });
    if (probe.status !== 0) {
      blocking = dir;
      break;
    }
  }
  if (!blocking) return undefined;
  let seen = 'missing';
  try {
    const st = statSync(blocking);
    seen = `mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}, owner uid ${st.uid} gid ${st.gid}`;
  } catch {}
  return `${who.name} (uid ${who.uid}) cannot reach ${file}: ${blocking} (${seen}) is closed to it; place what the account's process needs where it can read it (a folder of the run's temp dir, see runnableBy in cli.ts and nodeFor)`;
}

/**
 * Whom the integration tiers run the CLI, its roots and the service as when a test names nobody: the normal account,
 * where the suite may make and become accounts (root on Linux, as CI runs it). A test about root itself says so with
 * `as: null` (cli), `owner: null` (tempDir) or `account: null` (startUserManager). `RS_TESTS_AS=root` runs it all as
 * the test process, as the suite did before; elsewhere (not root) everything runs as the test process's account.
 */
export function defaultTestAccount(): Account | undefined {
  if (process.env.RS_TESTS_AS === 'root' || !canUseAccounts().ok) return undefined;
  return normalAccount();
}

/** `null`: the test process's own account (root, for a case about root); `undefined`: the default test account. */
export const accountOrDefault = (who: Account | null | undefined): Account | undefined =>
  who === null ? undefined : (who ?? defaultTestAccount());

/**
 * Node 24 (or 26) as `account` can run it: where it is when every folder on the way lets the account through, else a copy
 * (with the npm beside it) in the run's temp folder, made once per run.
 */
export function nodeFor(account: Account | undefined, node: string): string {
  if (!account || reachableBy(account, node)) return node;
  const home = path.dirname(path.dirname(node));
  const copy = path.join(process.env.RS_RUN_TMP ?? tmpdir(), `shared-for-accounts-${path.basename(home)}`);
  if (!existsSync(path.join(copy, '.done'))) {
    mkdirSync(copy, { recursive: true, mode: 0o755 });
    chmodSync(copy, 0o755);
    execFileSync('cp', ['-a', `${home}/.`, copy]);
    writeFileSync(path.join(copy, '.done'), '');
  }
  return path.join(copy, 'bin', path.basename(node));
}

/**
 * A test file whose cases are still written for root (they plant state, units or files as root and read what the
 * service wrote as root): its CLI, roots and managers run as the test process, and the file says why. Each file runs
 * in a process of its own (vitest's forks pool isolates files), so this touches no other file.
 */
export function runThisFileAsRoot(why: string): void {
  process.env.RS_TESTS_AS = 'root';
  if (canUseAccounts().ok) process.stderr.write(`as root, not the normal account: ${why}\n`);
}

/** The real, effective, saved and filesystem uids of a live host process: whom it really runs as. */
export function processUids(pid: number): number[] {
  return /^Uid:\s+(.*)$/m
    .exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!
    .trim()
    .split(/\s+/)
    .map(Number);
}
