/**
 * The supervisor's side of a root: a systemd drop-in (or a whole unit) whose ExecStart runs
 * `<root>/current/<entry>`, so that after a flip a plain restart starts the new release and the unit
 * itself never has to be edited again.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Config, readConfig } from '../store/config.js';
import { ReleaseSwitcherError } from '../model/errors.js';
import { pathExists, readJsonIfExists, writeFileAtomic } from '../platform/fs.js';
import { layoutOf } from '../store/layout.js';
import { CLI_MAIN } from '../platform/self.js';
import { PRESETS } from '../store/presets.js';
import type { RootOptions } from '../store/session.js';
import { tail } from '../platform/subprocess.js';
import { systemctl, type UnitScope } from './systemctl.js';
import { launchdPlist } from './supervisors/launchd.js';
import { type ExistingUnit, nodeCommandOf, readExistingUnit, spanSeconds } from './existing-unit.js';

export type { UnitScope } from './systemctl.js';
export type UnitKind = 'drop-in' | 'unit' | 'plist';

export interface ServiceOptions {
  /** Entry script inside a release, e.g. `server.js` or `dist/index.js`. */
  entry: string;
  /** Arguments after the entry. @default [] (over an existing unit: the unit's own) */
  args?: string[];
  /** Options for Node itself, before the entry (e.g. `--max-old-space-size=8192`). @default [] (over an existing unit: the unit's own) */
  nodeOptions?: string[];
  /** Seconds the service may drain after SIGTERM; TimeoutStopSec is 10 s more, so a drain is never cut by SIGKILL. @default 20 */
  drainSeconds?: number;
  /** The ExecStartPre command; `null` leaves it out. @default [node, release-switcher's CLI, '--root', root, 'boot-check'] */
  bootCheck?: string[] | null;
  /** Decides WantedBy= of a whole unit. @default from config.supervisor */
  scope?: UnitScope;
  /** The entry was named by the user: over an existing unit, run it instead of what the unit runs. */
  entryGiven?: boolean;
}

export const DROP_IN_NAME = 'release-switcher.conf';
/** First line of every file we write: marks a whole unit as ours, so a later `unit --install` rewrites it. */
const HEADER = '# Written by release-switcher (unit --install): regenerate it rather than edit it.';
const STOP_MARGIN_SECONDS = 10;

/** One word of an Exec line (systemd.service "COMMAND LINES"): `%` specifiers, `$` expansion, quotes, C escapes. */
export function execWord(word: string): string {
  const literal = word.replaceAll('%', '%%').replaceAll('$', () => '$$');
  if (/^[\w@%+=:,./$-]+$/.test(literal)) return literal;
  const escaped = [...literal].map((c) => (c === '\\' || c === '"' ? `\\${c}` : c < ' ' || c === '\x7f' ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c));
  return `"${escaped.join('')}"`;
}

/** A path or text setting: no quoting or escapes there, only specifiers; a line break cannot be written at all. */
function plainValue(value: string, what: string): string {
  if (/[\x00-\x1f\x7f]/.test(value)) {
    throw new ReleaseSwitcherError('UNSUPPORTED', `${what} contains a control character, which a unit file cannot hold: ${JSON.stringify(value)}`, { hint: 'Use a root path without line breaks or control characters.' });
  }
  return value.replaceAll('%', '%%');
}

function checkEntry(entry: string): string {
  const normal = path.posix.normalize(entry);
  if (entry === '' || path.isAbsolute(entry) || normal === '..' || normal.startsWith('../')) {
    throw new ReleaseSwitcherError('USAGE', `The entry "${entry}" must be a path inside the release.`, { hint: 'For example --entry server.js or --entry dist/index.js' });
  }
  return normal.replace(/^\.\//, '');
}

/** What a unit we write sets, and (over somebody else's unit) what it kept of theirs and what it changed. */
interface Lines {
  pre: string[];
  start: string;
  rest: string[];
  kept: string[];
  changed: string[];
}

function bootCheckLine(config: Config, root: string, options: ServiceOptions): string[] {
  const node = config.node ?? process.execPath;
  const bootCheck = options.bootCheck === undefined ? [node, CLI_MAIN, '--root', root, 'boot-check'] : options.bootCheck;
  // `-`: boot-check always exits 0; if release-switcher itself is gone or broken, the service must still start.
  return bootCheck && bootCheck.length > 0 ? [`ExecStartPre=-${bootCheck.map(execWord).join(' ')}`] : [];
}

/** Our policies, each only where the existing unit (if any) does not set its own; a stop budget is only ever raised. */
function policyLines(options: ServiceOptions, existing: ExistingUnit | undefined, lines: Pick<Lines, 'kept' | 'changed'>): string[] {
  const own = existing?.service ?? {};
  const need = Math.ceil(options.drainSeconds ?? 20) + STOP_MARGIN_SECONDS;
  const theirStop = own.TimeoutStopSec ?? own.TimeoutSec;
  const theirs = spanSeconds(theirStop);
  // 78 (EX_CONFIG): the service says its config or state is from a newer version; restarting cannot help.
  const ours: Array<[string, string, string | undefined]> = [
    ['Restart', 'always', own.Restart],
    ['RestartSec', '1', own.RestartSec],
    ['TimeoutStopSec', String(need), theirs !== undefined && theirs >= need ? theirStop : undefined],
    ['RestartPreventExitStatus', '78', own.RestartPreventExitStatus],
  ];
  const out: string[] = [];
  for (const [key, value, kept] of ours) {
    if (kept !== undefined) lines.kept.push(`${key}=${kept}${key === 'TimeoutStopSec' ? ` (at least the drain + ${STOP_MARGIN_SECONDS} s = ${need} s)` : ''}`);
    else out.push(`${key}=${value}`);
  }
  if (existing && !out.every((l) => !l.startsWith('TimeoutStopSec='))) {
    lines.changed.push(`TimeoutStopSec ${theirs === undefined ? '(systemd default)' : `${theirs} s`} -> ${need} s, so a drain of ${options.drainSeconds ?? 20} s is never cut by SIGKILL`);
  }
  return out;
}

/**
 * The command: `<node> [node options] <root>/current/<entry> [args]`. Over an existing unit that runs
 * `node [options] <package>/<entry> [args]`, only the package's path changes (and the Node, when one is configured).
 */
function commandOf(config: Config, root: string, options: ServiceOptions, existing: ExistingUnit | undefined, lines: Pick<Lines, 'kept' | 'changed'>): string[] {
  const { current } = layoutOf(root);
  const theirs = options.entryGiven ? null : nodeCommandOf(existing?.execStart ?? null);
  const inPackage = theirs ? entryInPackage(theirs.script, config.package) : null;
  if (!theirs || inPackage === null) {
    if (existing?.execStart) lines.changed.push(`ExecStart (${existing.execStart.join(' ')}) -> runs ${options.entry} of ${current}`);
    return [config.node ?? process.execPath, ...(options.nodeOptions ?? []), path.join(current, checkEntry(options.entry)), ...(options.args ?? [])];
  }
  const node = config.node ?? theirs.node;
  const nodeOptions = options.nodeOptions ?? theirs.nodeOptions;
  const args = options.args ?? theirs.args;
  lines.changed.push(`ExecStart: ${theirs.script} -> ${path.join(current, inPackage)}`);
  if (node !== theirs.node) lines.changed.push(`Node: ${theirs.node} -> ${node} (the configured --node)`);
  lines[nodeOptions.join(' ') === theirs.nodeOptions.join(' ') ? 'kept' : 'changed'].push(`Node options: ${nodeOptions.join(' ') || '(none)'}`);
  lines[args.join(' ') === theirs.args.join(' ') ? 'kept' : 'changed'].push(`arguments: ${args.join(' ') || '(none)'}`);
  return [node, ...nodeOptions, path.join(current, checkEntry(inPackage)), ...args];
}

/** `…/node_modules/<pkg>/dist/index.js` → `dist/index.js`; null when the script is not inside the package. */
function entryInPackage(script: string, pkg: string): string | null {
  const marker = `/node_modules/${pkg}/`;
  const at = script.lastIndexOf(marker);
  return at >= 0 ? script.slice(at + marker.length) : null;
}

function serviceLines(config: Config, root: string, options: ServiceOptions, existing?: ExistingUnit): Lines {
  const { current } = layoutOf(root);
  const lines = { kept: [] as string[], changed: [] as string[] };
  const start = commandOf(config, root, options, existing, lines);
  const rest = [...policyLines(options, existing, lines), `WorkingDirectory=${plainValue(current, 'The root path')}`];
  if (existing) {
    if (Object.keys(existing.environment).length > 0) lines.kept.push(`Environment: ${Object.keys(existing.environment).join(', ')}`);
    lines.changed.push(`WorkingDirectory -> ${current}`, 'ExecStartPre: the boot-check', 'StartLimitIntervalSec=0 (quick rollbacks must never hit start-limit-hit)');
  }
  return { pre: bootCheckLine(config, path.dirname(current), options), start: `ExecStart=${start.map(execWord).join(' ')}`, rest, ...lines };
}

/** `[Unit]`: explicit restarts count against StartLimitBurst (5 per 10 s), and quick rollbacks must never hit start-limit-hit. */
const UNIT_LIMITS = 'StartLimitIntervalSec=0';

/** The drop-in that points an existing unit at `<root>/current` (`ExecStart=` empty first, to drop the unit's own). */
export function systemdDropIn(config: Config, root: string, options: ServiceOptions, existing?: ExistingUnit): string {
  return dropInWithNotes(config, root, options, existing).content;
}

/** The drop-in, and what it kept of the unit under it and what it changed. */
export function dropInWithNotes(config: Config, root: string, options: ServiceOptions, existing?: ExistingUnit): { content: string; kept: string[]; changed: string[] } {
  const { pre, start, rest, kept, changed } = serviceLines(config, root, options, existing);
  return { content: [HEADER, '[Unit]', UNIT_LIMITS, '', '[Service]', ...pre, 'ExecStart=', start, ...rest, ''].join('\n'), kept, changed };
}

/** A whole unit, for a service that has none yet. */
export function systemdUnit(config: Config, root: string, options: ServiceOptions): string {
  const scope = options.scope ?? scopeOf(config);
  const description = plainValue(`${config.package} (release-switcher root ${layoutOf(root).root})`, 'The root path');
  // A system service listening on the network wants the network up; a user manager has no such target.
  const network = scope === 'system' ? ['Wants=network-online.target', 'After=network-online.target'] : [];
  const install = scope === 'system' ? 'multi-user.target' : 'default.target';
  const { pre, start, rest } = serviceLines(config, root, options);
  return [HEADER, '[Unit]', `Description=${description}`, ...network, UNIT_LIMITS, '', '[Service]', ...pre, start, ...rest, '', '[Install]', `WantedBy=${install}`, ''].join('\n');
}

export function scopeOf(config: Config): UnitScope {
  if (config.supervisor === 'systemd') return 'user';
  if (config.supervisor === 'systemd-system') return 'system';
  throw new ReleaseSwitcherError('UNSUPPORTED', `A systemd unit needs supervisor systemd or systemd-system, not ${config.supervisor}.`, { hint: 'Run: release-switcher init --supervisor systemd --unit NAME' });
}

/** The configured unit as systemd names it (`openclaw-gateway` → `openclaw-gateway.service`). */
export function unitNameOf(config: Config): string {
  const unit = config.unit ?? '';
  if (!/^[\w:.@\\-]+$/.test(unit)) {
    throw new ReleaseSwitcherError('INVALID_CONFIG', unit ? `"${unit}" is not a systemd unit name.` : 'No unit is configured.', { hint: 'Run: release-switcher init --unit NAME.service' });
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

/** Write a unit file or drop-in atomically, then daemon-reload so the manager sees it. */
export async function writeUnitFile(file: string, content: string, options: PathOptions): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, content);
  const reload = await systemctl(['daemon-reload'], options);
  if (reload.exitCode !== 0) {
    throw new ReleaseSwitcherError('SUPERVISOR_FAILED', `Wrote ${file}, but systemctl daemon-reload failed: ${tail(reload.output, 5)}`, {
      hint: `Run: systemctl ${options.scope === 'user' ? '--user ' : ''}daemon-reload`,
    });
  }
}

export async function installDropIn(config: Config, root: string, options: ServiceOptions & PathOptions): Promise<string> {
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
  if (own.startsWith(HEADER)) return 'ours';
  const cat = await systemctl(['cat', unitNameOf(config)], options).catch(() => undefined);
  if (cat?.exitCode === 0) return /^# .*\.d\/[^/]+\.conf$/.test(cat.output.split('\n')[0] ?? '') ? 'none' : 'theirs';
  return cat && /No files found/.test(cat.output) ? 'none' : undefined;
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

/** What runs a known package, when no entry is given: the preset's, else the current release's `main`. */
async function defaultEntry(config: Config, root: string): Promise<{ entry: string; args: string[] }> {
  const preset = PRESETS[config.preset ?? config.package]; // an openclaw root made without the preset still runs openclaw
  if (preset?.entry) return { entry: preset.entry.entry, args: [...preset.entry.args] };
  const pkg = (await readJsonIfExists(path.join(layoutOf(root).current, 'package.json')).catch(() => undefined)) as { main?: unknown } | undefined;
  if (typeof pkg?.main === 'string') return { entry: pkg.main, args: [] };
  throw new ReleaseSwitcherError('USAGE', `Cannot tell which file of ${config.package} to run.`, { hint: 'Pass it: release-switcher unit --entry server.js [--arg ARG]…' });
}

/** A drop-in when somebody else's unit exists (keeping how it runs), else a whole unit (ours, rewritten on every install). */
async function planSystemd(config: Config, root: string, service: ServiceOptions, where: PathOptions, install: boolean): Promise<Planned> {
  const existing = await existingUnit(config, where);
  if (existing === undefined && install) {
    throw new ReleaseSwitcherError('SUPERVISOR_FAILED', `Cannot ask the ${where.scope} manager whether ${unitNameOf(config)} exists (systemctl${where.scope === 'user' ? ' --user' : ''} cat failed).`, {
      hint: where.scope === 'user' ? 'Run it in the user session of the service (XDG_RUNTIME_DIR set), or print it without --install.' : 'Run it as root, or print it without --install.',
    });
  }
  const options = { ...service, scope: where.scope };
  if (existing !== 'theirs') {
    const file = unitPath(config, where);
    const content = systemdUnit(config, root, await withEntry(config, root, options));
    return { kind: 'unit', path: file, content, write: () => writeUnitFile(file, content, where) };
  }
  const file = dropInPath(config, where);
  const theirs = await readExistingUnit(unitNameOf(config), { ...where, skip: (f) => f === file });
  const runsNode = !service.entryGiven && nodeCommandOf(theirs?.execStart ?? null) !== null;
  const { content, kept, changed } = dropInWithNotes(config, root, runsNode ? options : await withEntry(config, root, options), theirs);
  return { kind: 'drop-in', path: file, content, kept, changed, write: () => writeUnitFile(file, content, where) };
}

/** The entry (and its arguments) when none was given: the preset's, else the current release's `main`. */
async function withEntry(config: Config, root: string, options: ServiceOptions): Promise<ServiceOptions> {
  if (options.entryGiven) return options;
  const fallback = await defaultEntry(config, root);
  return { ...options, entry: fallback.entry, args: options.args ?? fallback.args };
}

/**
 * launchd has no drop-ins: the plist is the whole job. It has no ExecStartPre either, so no boot-check, and
 * an existing plist is never overwritten (its own keys, environment for one, would be lost).
 */
function planPlist(config: Config, root: string, service: ServiceOptions, env: NodeJS.ProcessEnv): Planned {
  const label = config.unit ?? '';
  if (!/^[\w.-]+$/.test(label)) throw new ReleaseSwitcherError('INVALID_CONFIG', label ? `"${label}" is not a launchd label.` : 'No launchd label is configured.', { hint: 'Run: release-switcher init --unit ai.example.gateway' });
  const { current } = layoutOf(root);
  const file = path.join(env.HOME || os.homedir(), 'Library', 'LaunchAgents', `${label}.plist`);
  const content = launchdPlist({ label, program: [config.node ?? process.execPath, ...(service.nodeOptions ?? []), path.join(current, checkEntry(service.entry)), ...(service.args ?? [])], workingDirectory: current });
  const write = async () => {
    if (await pathExists(file)) throw new ReleaseSwitcherError('UNSUPPORTED', `${file} exists; launchd has no drop-ins, and rewriting it would lose its own settings.`, { hint: 'Print the plist with release-switcher unit and merge ProgramArguments and WorkingDirectory into it by hand.' });
    await fs.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, content);
  };
  return { kind: 'plist', path: file, content, write };
}

/** The text `unit` prints, or with `install` writes: a systemd drop-in or unit, or a launchd plist. */
export async function unit(options: UnitOptions): Promise<UnitResult> {
  const config = await readConfig(options.root);
  const root = layoutOf(options.root).root;
  const entryGiven = options.entry !== undefined;
  const service: ServiceOptions = { ...options, entry: options.entry ?? '', entryGiven };
  const env = options.env ?? process.env;
  const planned =
    config.supervisor === 'launchd'
      ? planPlist(config, root, await withEntry(config, root, service), env)
      : await planSystemd(config, root, service, { scope: options.scope ?? scopeOf(config), env }, options.install === true);
  if (options.install) await planned.write();
  const { write: _write, ...result } = planned;
  return { ...result, installed: options.install === true };
}
