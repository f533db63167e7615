/**
 * The supervisor's side of a root: a systemd drop-in (or a whole unit) whose ExecStart runs
 * `<root>/current/<entry>`, so that after a flip a plain restart starts the new release and the unit
 * itself never has to be edited again.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultEnv } from '../model/runtime.js';
import { type Config, readConfig } from '../store/config.js';
import { assertUnitForOwner } from './owner-unit.js';
import { ReleaseSwitcherError } from '../model/errors.js';
import { currentAccount } from '../platform/accounts.js';
import { pathExists, readJsonIfExists, writeFileAtomic } from '../platform/fs.js';
import { layoutOf } from '../store/layout.js';
import type { RootOptions } from '../store/session.js';
import { tail } from '../platform/subprocess.js';
import { systemctl, type UnitScope } from '../service/systemctl.js';
import { isOurPlist, mergePlist, ourPlist } from './unit-plist.js';
import { type ExistingUnit, readExistingUnit } from './existing-unit.js';
import { cliCommandOf } from './cli-command.js';
import { assertBootCheckReachable, privilegedService, refuseEnvironmentInjection } from './privileged.js';
import { commandsOf } from '../platform/package-json.js';
import { type ServiceOptions, type UnitRequest, nodeScriptOf, plainValue, serviceLines } from './unit-text.js';
import { nodeEntry, withEntry } from './unit-entry.js';
import { type ToolCommand, ensureTool, linkCommandOf } from '../tool/index.js';

export { execWord, type ServiceOptions } from './unit-text.js';

export type { UnitScope } from '../service/systemctl.js';
export type UnitKind = 'drop-in' | 'unit' | 'plist';

export const DROP_IN_NAME = 'release-switcher.conf';
/** Every unit file and drop-in we write (writeUnitFile). */
export const UNIT_FILE_MODE = 0o644;
/** First line of every file we write: marks a whole unit as ours, so a later `unit --install` rewrites it. */
const HEADER = '# Written by release-switcher (unit --install): regenerate it rather than edit it.';

/** Whether a unit file's text is one release-switcher wrote (a drop-in or a whole unit: its first line). */
export function isOurUnitText(text: string): boolean {
  return text.startsWith(HEADER);
}

/** `[Unit]`: explicit restarts count against StartLimitBurst (5 per 10 s), and quick rollbacks must never hit start-limit-hit. */
const UNIT_LIMITS = 'StartLimitIntervalSec=0';

/** The drop-in that points an existing unit at `<root>/current` (`ExecStart=` empty first, to drop the unit's own). */
export function systemdDropIn(config: Config, root: string, options: ServiceOptions, existing?: ExistingUnit): string {
  return dropInWithNotes({ config, root, options, existing }).content;
}

/** The drop-in, and what it kept of the unit under it and what it changed. */
export function dropInWithNotes(request: UnitRequest): { content: string; kept: string[]; changed: string[] } {
  const { pre, start, rest, kept, changed } = serviceLines(request);
  return {
    content: [HEADER, '[Unit]', UNIT_LIMITS, '', '[Service]', ...pre, 'ExecStart=', start, ...rest, ''].join('\n'),
    kept,
    changed,
  };
}

/** A whole unit, for a service that has none yet. */
export function systemdUnit(config: Config, root: string, options: ServiceOptions): string {
  const scope = options.scope ?? scopeOf(config);
  const description = plainValue(`${config.package} (release-switcher root ${layoutOf(root).root})`, 'The root path');
  // A system service listening on the network wants the network up; a user manager has no such target.
  const network = scope === 'system' ? ['Wants=network-online.target', 'After=network-online.target'] : [];
  const install = scope === 'system' ? 'multi-user.target' : 'default.target';
  const { pre, start, rest } = serviceLines({ config, root, options });
  const user = scope === 'system' ? [`User=${plainValue(systemUnitUser(config), 'The service account')}`] : [];
  return [
    HEADER,
    '[Unit]',
    `Description=${description}`,
    ...network,
    UNIT_LIMITS,
    '',
    '[Service]',
    ...user,
    ...pre,
    start,
    ...rest,
    '',
    '[Install]',
    `WantedBy=${install}`,
    '',
  ].join('\n');
}

/**
 * The account a system unit of our own runs the service as: never root by default (a service that needs no root must
 * not have it). The configured service account (`init --service-user`, `root` only when named), else the account
 * writing the unit.
 */
function systemUnitUser(config: Config): string {
  const user = config.serviceUser ?? currentAccount().name;
  if (user !== 'root' || config.serviceUser === 'root') return user;
  throw new ReleaseSwitcherError(
    'USAGE',
    'A system unit written by release-switcher does not run the service as root by default.',
    {
      hint: 'Name the account it runs as: release-switcher init --service-user ACCOUNT (make one with useradd --system ACCOUNT), then unit again; init --service-user root runs it as root on purpose.',
    },
  );
}

export function scopeOf(config: Config): UnitScope {
  if (config.supervisor === 'systemd') return 'user';
  if (config.supervisor === 'systemd-system') return 'system';
  throw new ReleaseSwitcherError(
    'UNSUPPORTED',
    `A systemd unit needs supervisor systemd or systemd-system, not ${config.supervisor}.`,
    { hint: 'Run: release-switcher init --supervisor systemd --unit NAME' },
  );
}

/** The configured unit as systemd names it (`openclaw-gateway` → `openclaw-gateway.service`). */
export function unitNameOf(config: Config): string {
  const unit = config.unit ?? '';
  if (!/^[\w:.@\\-]+$/.test(unit)) {
    throw new ReleaseSwitcherError(
      'INVALID_CONFIG',
      unit ? `"${unit}" is not a systemd unit name.` : 'No unit is configured.',
      { hint: 'Run: release-switcher init --unit NAME.service' },
    );
  }
  return /\.service$/.test(unit) ? unit : `${unit}.service`;
}

export interface PathOptions {
  scope: UnitScope;
  /** For `$XDG_CONFIG_HOME` and `$HOME` (user scope). */
  env: NodeJS.ProcessEnv;
}

/** Where units of this scope go: the user's own config dir, or /etc for the system manager. */
export function unitDir(options: PathOptions): string {
  if (options.scope === 'system') return '/etc/systemd/system';
  const configHome = options.env.XDG_CONFIG_HOME || path.join(options.env.HOME || os.homedir(), '.config');
  return path.join(configHome, 'systemd', 'user');
}

export function dropInPath(config: Config, options: PathOptions): string {
  return path.join(unitDir(options), `${unitNameOf(config)}.d`, DROP_IN_NAME);
}

export function unitPath(config: Config, options: PathOptions): string {
  return path.join(unitDir(options), unitNameOf(config));
}

/**
 * Write a unit file or drop-in atomically, then daemon-reload so the manager sees it. 0644, as systemd's own units: a
 * unit file is no secret (systemd warns at every reload about one that is not world-readable), and the service's
 * account must be able to read it (`systemctl cat`, its own `release-switcher unit`). Who may not write the folder (an
 * account on /etc/systemd/system) is told to run it as root, never to take the folder: what is in it runs as root.
 */
export async function writeUnitFile(file: string, content: string, options: PathOptions): Promise<void> {
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, content, { mode: UNIT_FILE_MODE });
    await fs.chmod(file, UNIT_FILE_MODE); // past the umask
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code;
    if (errno !== 'EACCES' && errno !== 'EPERM' && errno !== 'EROFS') throw error;
    throw new ReleaseSwitcherError('PERMISSION_DENIED', `${currentAccount().name} may not write ${file} (${errno}).`, {
      hint:
        options.scope === 'system'
          ? "System units are root's: run it as root (sudo release-switcher unit --install). Never give another account the unit folder: what a unit names runs as root."
          : `Check the permissions of ${path.dirname(file)} (your own systemd user folder).`,
      cause: error,
      details: { path: file, errno },
    });
  }
  const reload = await systemctl(['daemon-reload'], options);
  if (reload.exitCode !== 0) {
    throw new ReleaseSwitcherError(
      'SUPERVISOR_FAILED',
      `Wrote ${file}, but systemctl daemon-reload failed: ${tail(reload.output, 5)}`,
      {
        hint: `Run: systemctl ${options.scope === 'user' ? '--user ' : ''}daemon-reload`,
      },
    );
  }
}

export async function installDropIn(
  config: Config,
  root: string,
  options: ServiceOptions & PathOptions,
): Promise<string> {
  const file = dropInPath(config, options);
  await writeUnitFile(file, systemdDropIn(config, root, options), options);
  return file;
}

/**
 * Whether the manager already has the unit from somebody else (`systemctl cat` exits 0 and shows a file
 * that is not one of its drop-ins); `undefined` when it cannot be asked. A whole unit we wrote is "ours".
 */
async function existingUnit(config: Config, options: PathOptions): Promise<'theirs' | 'ours' | 'none' | undefined> {
  const own = await fs.readFile(unitPath(config, options), 'utf8').catch(() => '');
  if (isOurUnitText(own)) return 'ours';
  const cat = await systemctl(['cat', unitNameOf(config)], options).catch(() => undefined);
  if (cat?.exitCode === 0) return /^# .*\.d\/[^/]+\.conf$/.test(cat.output.split('\n')[0] ?? '') ? 'none' : 'theirs';
  return cat && /No files found/.test(cat.output) ? 'none' : undefined;
}

/**
 * A unit file or drop-in of this unit that exists and this account may not read (root's 0600 drop-in, as release-switcher
 * wrote them before 0644): printing a unit without it would drop what it holds (the hardening, Environment=, Group=),
 * and print a whole new unit where one exists. PERMISSION_DENIED, naming it.
 */
async function refuseUnreadable(config: Config, where: PathOptions): Promise<void> {
  const file = unitPath(config, where);
  const dropIns = `${file}.d`;
  const names = await fs
    .readdir(dropIns)
    .catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : null));
  const candidates = [file, ...(names === null ? [dropIns] : names.map((name) => path.join(dropIns, name)))];
  for (const candidate of candidates) {
    const denied = await fs.access(candidate, fs.constants.R_OK).then(
      () => undefined,
      (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : error.code),
    );
    if (!denied) continue;
    throw new ReleaseSwitcherError(
      'PERMISSION_DENIED',
      `Cannot read ${candidate} (${denied}), a file of ${unitNameOf(config)}: the unit printed without it would leave out what it holds (and print a whole unit where one exists). Nothing was written.`,
      {
        hint:
          where.scope === 'system'
            ? `Run it as root (sudo release-switcher unit), or have root rewrite our drop-in readable (sudo release-switcher unit --install writes it 0644; a unit file is no secret: sudo chmod 0644 ${candidate}).`
            : `Check the permissions of ${candidate}.`,
        details: { path: candidate, errno: denied },
      },
    );
  }
}

export interface UnitOptions extends RootOptions, Partial<ServiceOptions> {
  /** Write it (and daemon-reload). @default false */
  install?: boolean;
}

export interface UnitResult {
  /** Where it goes (and, when installed, where it went). */
  path: string;
  content: string;
  kind: UnitKind;
  installed: boolean;
  /** A drop-in: what it keeps of the unit under it (Node options, arguments, environment, timeouts)… */
  kept?: string[];
  /** …and what it changes. */
  changed?: string[];
}

interface Planned extends Omit<UnitResult, 'installed'> {
  write(): Promise<void>;
}

/** A drop-in when somebody else's unit exists (keeping how it runs), else a whole unit (ours, rewritten on every install). */
interface SystemdRequest {
  config: Config;
  root: string;
  service: ServiceOptions;
  /** The manager's scope and the environment to reach it. */
  where: PathOptions;
  /** Whether it will be written (an unknown existing unit is then an error, not a guess). */
  install: boolean;
  /** The pinned copy's command through its link (tool/), which the boot-check runs. */
  tool: ToolCommand;
}

async function planSystemd(request: SystemdRequest): Promise<Planned> {
  const { config, root, where, install } = request;
  const checked = privilegedService(config, root, request.service, request.tool);
  const service: ServiceOptions =
    checked.bootCheck === undefined
      ? { ...checked, bootCheck: [request.tool.node, request.tool.cli, '--root', root, 'boot-check'] }
      : checked;
  if (install && service.bootCheck) await assertBootCheckReachable(config, root, service.bootCheck);
  const existing = await existingUnit(config, where);
  // Whatever systemctl answered (a manager may read as another account): what this account cannot read, it cannot keep.
  await refuseUnreadable(config, where);
  if (existing === undefined && install) {
    throw new ReleaseSwitcherError(
      'SUPERVISOR_FAILED',
      `Cannot ask the ${where.scope} manager whether ${unitNameOf(config)} exists (systemctl${where.scope === 'user' ? ' --user' : ''} cat failed).`,
      {
        hint:
          where.scope === 'user'
            ? 'Run it in the user session of the service (XDG_RUNTIME_DIR set), or print it without --install.'
            : 'Run it as root, or print it without --install.',
      },
    );
  }
  const options = { ...service, scope: where.scope };
  if (existing !== 'theirs') {
    const file = unitPath(config, where);
    const content = systemdUnit(config, root, await withEntry(config, root, options));
    return { kind: 'unit', path: file, content, write: () => writeUnitFile(file, content, where) };
  }
  const file = dropInPath(config, where);
  const theirs = await readExistingUnit(unitNameOf(config), { ...where, skip: (f) => f === file });
  refuseEnvironmentInjection(config, root, theirs);
  const nodeScript = service.entryGiven ? null : nodeScriptOf(theirs);
  // A unit that runs the package's command (`openclaw gateway`, a wrapper, a shim, a file of `current`) keeps its
  // command's file and arguments.
  const cli =
    service.entryGiven || nodeScript
      ? null
      : await cliCommandOf(theirs?.execStart ?? null, {
          pkg: config.package,
          bins: await currentBins(root),
          unitPath: theirs?.environment.PATH,
          root,
        });
  const saw = { unit: unitNameOf(config), execStart: theirs?.execStart ?? null };
  const { content, kept, changed } = dropInWithNotes({
    config,
    root,
    options: nodeScript
      ? await nodeEntry(config, root, options, { script: nodeScript.script, ...saw })
      : cli
        ? { ...options, entry: cli.entry, args: options.args ?? cli.args }
        : await withEntry(config, root, options, { overTheirs: true, saw }),
    existing: theirs,
    cli,
  });
  return { kind: 'drop-in', path: file, content, kept, changed, write: () => writeUnitFile(file, content, where) };
}

/** The commands of the current release (package.json `bin`), by name; none when there is no current release yet. */
async function currentBins(root: string): Promise<Record<string, string>> {
  const pkg = await readJsonIfExists(path.join(layoutOf(root).current, 'package.json')).catch(() => undefined);
  return pkg && typeof pkg === 'object' ? commandsOf(pkg as Record<string, unknown>) : {};
}

interface PlistRequest {
  config: Config;
  root: string;
  service: ServiceOptions;
  /** The environment whose HOME holds Library/LaunchAgents. */
  env: NodeJS.ProcessEnv;
}

/**
 * launchd has no drop-ins: the plist is the whole job. A plist somebody else wrote is changed in place, only where it
 * must (unit-plist.ts); one we wrote is regenerated. launchd has no ExecStartPre, so no boot-check.
 */
async function planPlist(request: PlistRequest): Promise<Planned> {
  const { config, root, service, env } = request;
  const label = config.unit ?? '';
  if (!/^[\w.-]+$/.test(label))
    throw new ReleaseSwitcherError(
      'INVALID_CONFIG',
      label ? `"${label}" is not a launchd label.` : 'No launchd label is configured.',
      { hint: 'Run: release-switcher init --unit ai.example.gateway' },
    );
  const file = path.join(env.HOME || os.homedir(), 'Library', 'LaunchAgents', `${label}.plist`);
  const before = await fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new ReleaseSwitcherError('UNSUPPORTED', `Cannot read ${file}: ${error.message}`, {
      hint: 'Check its permissions.',
      cause: error,
    });
  });
  const replacement = service.entryGiven ? service : await withEntry(config, root, service).catch(() => service);
  const merged =
    before === undefined || isOurPlist(before) ? undefined : mergePlist(before, config, root, service, replacement);
  const content = merged?.content ?? ourPlist(config, root, label, await withEntry(config, root, service));
  const write = async () => {
    await fs.mkdir(path.dirname(file), { recursive: true });
    // The plist as it was before we first changed it, once, beside it (launchd loads only *.plist).
    if (merged && !(await pathExists(`${file}.before-release-switcher`)))
      await fs.copyFile(file, `${file}.before-release-switcher`);
    await writeFileAtomic(file, content);
  };
  return {
    kind: 'plist',
    path: file,
    content,
    ...(merged ? { kept: merged.kept, changed: merged.changed } : {}),
    write,
  };
}

/** The text `unit` prints, or with `install` writes: a systemd drop-in or unit, or a launchd plist. */
export async function unit(options: UnitOptions): Promise<UnitResult> {
  const config = await readConfig(options.root, 'unit');
  await assertUnitForOwner(options.root, config, options.env ?? defaultEnv());
  const root = layoutOf(options.root).root;
  const entryGiven = options.entry !== undefined;
  const service: ServiceOptions = { ...options, entry: options.entry ?? '', entryGiven };
  const env = options.env ?? defaultEnv();
  // Installing: the pinned copy is made (or found) first, so the unit never names a command that is not there.
  const tool =
    options.install && config.supervisor !== 'launchd' ? (await ensureTool({ env })).link : linkCommandOf(env);
  const planned =
    config.supervisor === 'launchd'
      ? await planPlist({ config, root, service, env })
      : await planSystemd({
          config,
          root,
          service,
          where: { scope: options.scope ?? scopeOf(config), env },
          install: options.install === true,
          tool,
        });
  if (options.install) await planned.write();
  const { write: _write, ...result } = planned;
  return { ...result, installed: options.install === true };
}
