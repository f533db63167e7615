/**
 * Whom the service runs as and with what environment: what every command run for it (finalize, the database preflight,
 * the restart request, the plugin downloads) and every read of its state (checkpoints, state paths) must use, and not
 * the tool's own. Root acting for `User=openclaw` has another HOME than the gateway; so has a runner started by a
 * service manager, or an operator whose shell sets another HOME. The service's wins, read in this order:
 * 1. its running main process (/proc/<pid>/environ and its real uid): what it really runs with, for our own account;
 *    for another account (root acting for it) only its uid: that account can rewrite what /proc/<pid>/environ shows,
 *    so the environment is its unit's definition (systemd), or the process's for pm2 and none (the commands built
 *    from it run as that account: it only fools itself);
 * 2. its unit (systemd): `User=` (system units; its home from the password database, as systemd gives it) and
 *    `Environment=` (HOME, OPENCLAW_STATE_DIR, …), with the user manager's own HOME for a user unit;
 * 3. otherwise (pm2 or none, nothing running): the account config `serviceUser` names, when it is another than ours
 *    (its home, shell, systemd's default PATH, our locale), else this account and its environment.
 * A service that runs but whose environment cannot be read (another account's process, and we are not root) is
 * refused before anything stops: state paths resolved with our HOME would checkpoint somebody else's state.
 */
import fs from 'node:fs/promises';
import { ReleaseSwitcherError } from '../model/errors.js';
import { type AccountInfo, currentAccount, lookupAccount } from '../platform/accounts.js';
import type { RunAs } from '../platform/run-as.js';
import { candidateEnvironment } from '../rehearsal/candidate-env.js';
import { type UnitScope, systemctl } from '../service/systemctl.js';
import type { Config } from '../store/config.js';
import type { Session } from '../store/session.js';
import { splitUnitWords } from '../unit-files/existing-unit.js';
import { configuredSupervisor } from './configured-supervisor.js';
import { DEFAULT_PATH, readUnitEnvironment } from './unit-environment.js';

export interface ServiceIdentity {
  /** The account the service runs as. */
  account: AccountInfo;
  /** Set when that is not this process's account: its commands run through setpriv (platform/run-as.ts). */
  runAs: RunAs | undefined;
  /** The service's environment: HOME and the state variables as the service has them, over our basics (PATH…). */
  env: NodeJS.ProcessEnv;
  /** Where it was read: `the service's process 1234`, `unit openclaw.service (User=openclaw)`, `this account`. */
  from: string;
}

/** One answer per session: read while the service still runs (before any stop), then the same all along. */
const known = new WeakMap<object, Promise<ServiceIdentity>>();

export function serviceIdentity(session: Pick<Session, 'config' | 'runtime'>): Promise<ServiceIdentity> {
  let found = known.get(session);
  if (!found) {
    found = readIdentity(session.config, session.runtime.env, session.runtime.signal);
    known.set(session, found);
  }
  return found;
}

async function readIdentity(config: Config, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<ServiceIdentity> {
  const supervisor = await configuredSupervisor(config, env, signal);
  const pid = (await supervisor?.state().catch(() => null))?.mainPid ?? null;
  const unit =
    (config.supervisor === 'systemd' || config.supervisor === 'systemd-system') && config.unit
      ? { name: config.unit, scope: (config.supervisor === 'systemd' ? 'user' : 'system') as UnitScope }
      : undefined;
  if (pid !== null && pid > 1) {
    const uid = await processUid(pid);
    const account = uid === undefined ? undefined : lookupAccount(uid);
    // Root acting for another account: what that account's process shows is the account's to rewrite, so its
    // environment comes from the unit's definition (the manager's), its account from the kernel (the process's uid).
    // (Only root acts for another: any other account reads it as before, and is told it cannot.)
    if (account && unit && account.uid !== process.getuid?.() && process.getuid?.() === 0)
      return fromUnit(unit.name, unit.scope, env, { signal, account, pid });
    // Another account's process (pm2, none): its environment over our locale only, none of our basics (HOME, TMPDIR).
    const theirs = account !== undefined && account.uid !== process.getuid?.();
    const own = await candidateEnvironment({ callerEnv: theirs ? localeOf(env) : env, servicePid: pid });
    if (!account || own.from !== `the service's process ${pid}`) throw unreadable(config, pid, uid);
    const seen = await asWeSeeIt(pid, { ...own.env, HOME: own.env.HOME ?? account.home }, env);
    return identity(account, seen, own.from);
  }
  if (unit) return fromUnit(unit.name, unit.scope, env, { signal });
  const named = config.serviceUser === null ? undefined : lookupAccount(config.serviceUser);
  if (config.serviceUser !== null && !named)
    throw new ReleaseSwitcherError(
      'SERVICE_ACCOUNT_UNKNOWN',
      `The service's account ${config.serviceUser} (config serviceUser) does not exist here.`,
      { hint: 'Create it, or name the right one: release-switcher init --service-user ACCOUNT' },
    );
  // Nothing runs and no unit says: the account the root serves (pm2, none), with what a login of it would have.
  if (named && named.uid !== process.getuid?.())
    return identity(
      named,
      { ...localeOf(env), PATH: DEFAULT_PATH, HOME: named.home, SHELL: named.shell || '/bin/sh' },
      `config serviceUser ${named.name} (no running service or unit to read it from)`,
    );
  return identity(currentAccount(), env, 'this account (no running service or unit to read it from)');
}

function identity(account: AccountInfo, env: NodeJS.ProcessEnv, from: string): ServiceIdentity {
  const runAs = account.uid === process.getuid?.() ? undefined : account;
  return { account, runAs, env: { ...env, USER: account.name, LOGNAME: account.name }, from };
}

/**
 * The service's paths as this process sees them. A service may run in a mount namespace of its own where a path names
 * another folder than it does here (a unit's BindPaths=, a test harness binding a temp home over the account's): each
 * absolute path of its environment that exists in its view (/proc/<pid>/root) is kept when it is the same folder here
 * (same device and inode: ProtectHome=read-only and the like keep paths as they are), else replaced by our own value of
 * that variable when that one is the same folder. A HOME found in neither way is refused, naming both.
 */
export async function asWeSeeIt(
  pid: number,
  env: NodeJS.ProcessEnv,
  ours: NodeJS.ProcessEnv,
): Promise<NodeJS.ProcessEnv> {
  const out = { ...env };
  for (const [key, value] of Object.entries(env)) {
    if (!value?.startsWith('/') || value.includes(':')) continue;
    const theirs = await fs.stat(`/proc/${pid}/root${value}`).catch(() => undefined);
    if (!theirs) continue;
    const same = (stat: { dev: number; ino: number } | undefined) =>
      stat !== undefined && stat.dev === theirs.dev && stat.ino === theirs.ino;
    if (same(await fs.stat(value).catch(() => undefined))) continue;
    const alternative = ours[key];
    if (alternative?.startsWith('/') && same(await fs.stat(alternative).catch(() => undefined))) {
      out[key] = alternative;
      continue;
    }
    if (key === 'HOME')
      throw new ReleaseSwitcherError(
        'SERVICE_ACCOUNT_UNKNOWN',
        `The service (pid ${pid}) sees its HOME ${value} as another folder than ${value} is here, and not as ${alternative ?? 'our HOME'} either: its state cannot be found from here. Nothing was changed.`,
        {
          hint: 'Run release-switcher where the service runs (the same mount namespace), or name its state with --state-path.',
        },
      );
  }
  return out;
}

/** A unit's `User=` and `Environment=` as the manager has them now: what its next start runs with. */
export async function unitSettings(
  unit: string,
  scope: UnitScope,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<{ user: string; environment: Record<string, string> }> {
  const shown = await systemctl(['show', unit, '--property=User', '--property=Environment'], { scope, env, signal });
  const props = Object.fromEntries(
    shown.output.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const environment: Record<string, string> = {};
  for (const word of splitUnitWords(props.Environment ?? ''))
    if (word.includes('=')) environment[word.slice(0, word.indexOf('='))] = word.slice(word.indexOf('=') + 1);
  return { user: props.User ?? '', environment };
}

/**
 * The service as its unit starts it: `User=` (or the running process's account), and for another account than ours
 * its whole environment from the unit's definition (unit-environment.ts) over this process's locale only: nothing of
 * the caller's (root's HOME, its credentials) reaches commands run as the account. For our own account, `Environment=`
 * over ours, as before.
 */
async function fromUnit(
  unit: string,
  scope: UnitScope,
  env: NodeJS.ProcessEnv,
  known: { signal?: AbortSignal | undefined; account?: AccountInfo; pid?: number } = {},
): Promise<ServiceIdentity> {
  const { signal } = known;
  const { user: unitUser, environment: unitEnv } = await unitSettings(unit, scope, env, signal);
  const user = known.account?.name ?? (scope === 'system' ? unitUser || 'root' : undefined);
  const account = known.account ?? (user ? lookupAccount(user) : currentAccount());
  if (!account)
    throw new ReleaseSwitcherError(
      'SERVICE_ACCOUNT_UNKNOWN',
      `${unit} runs as User=${user}, which has no account here.`,
      {
        hint: `Create the account or fix User= in the unit (systemctl cat ${unit}).`,
      },
    );
  const from = `unit ${unit}${user ? ` (User=${user})` : ''}`;
  if (account.uid !== process.getuid?.()) {
    const defined = await readUnitEnvironment({ unit, scope, env, account, as: account, signal });
    const whole = { ...localeOf(env), ...defined };
    const seen = known.pid === undefined ? whole : await asWeSeeIt(known.pid, whole, env);
    return identity(account, seen, `${from}: its definition`);
  }
  const home = unitEnv.HOME ?? (scope === 'user' ? await managerHome(env, signal) : account.home) ?? account.home;
  return identity(account, { ...env, ...unitEnv, HOME: home }, from);
}

/** The caller's language and zone: all of its environment a command run as another account may have. */
export function localeOf(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => /^(LANG|LANGUAGE|TZ|LC_[A-Z]+)$/.test(key)));
}

/** The user manager's own HOME (what a user unit without Environment=HOME gets). */
async function managerHome(env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<string | undefined> {
  const shown = await systemctl(['show-environment'], { scope: 'user', env, signal });
  if (shown.exitCode !== 0) return undefined;
  return /^HOME=(.*)$/m.exec(shown.output)?.[1];
}

/** The real uid of a process (/proc/<pid>/status `Uid:`), readable for any process. */
async function processUid(pid: number): Promise<number | undefined> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const uid = status === undefined ? undefined : /^Uid:\s+(\d+)/m.exec(status)?.[1];
  return uid === undefined ? undefined : Number(uid);
}

function unreadable(config: Config, pid: number, uid: number | undefined): ReleaseSwitcherError {
  const who = uid === undefined ? 'another account' : (lookupAccount(uid)?.name ?? `uid ${uid}`);
  const me = currentAccount();
  return new ReleaseSwitcherError(
    'SERVICE_ACCOUNT_UNKNOWN',
    `The service (pid ${pid}${config.unit ? `, ${config.unit}` : ''}) runs as ${who}, whose environment ${me.name} cannot read: its state paths (${config.statePaths.join(', ') || 'none'}) would be resolved with ${me.name}'s HOME (${me.home}), not the service's. Nothing was changed.`,
    { hint: `Run release-switcher as ${who} (sudo -u ${who} release-switcher …) or as root acting for it.` },
  );
}
