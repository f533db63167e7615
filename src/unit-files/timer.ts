/**
 * The auto-updater's timer: a systemd `.timer` + oneshot `.service` running `auto-update` (user
 * manager, or the system one for systemd-system), or the text of a launchd agent with StartInterval.
 *
 * `--every` takes either a systemd calendar expression (`hourly`, `*:0/15`, `Mon 04:00`), written as
 * `OnCalendar=` with `Persistent=true` so a tick missed while the machine was off runs at boot, or a
 * time span (`15min`, `2s`), written as `OnActiveSec=` + `OnUnitActiveSec=`: one span after the timer
 * starts, then one span after each tick began (monotonic; systemd ignores Persistent= there).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Config, readConfig } from '../store/config.js';
import { ReleaseSwitcherError } from '../model/errors.js';
import { resolveRuntime } from '../model/runtime.js';
import { pathExists, writeFileAtomic } from '../platform/fs.js';
import { type ToolCommand, ensureTool, linkCommandOf } from '../tool/index.js';
import { layoutOf } from '../store/layout.js';
import type { RootOptions } from '../store/session.js';
import { tail } from '../platform/subprocess.js';
import { systemctl } from '../service/systemctl.js';
import { timespanSeconds } from '../service/timespan.js';
import { launchdPlist } from '../service/supervisors/launchd.js';
import { type UnitScope, execWord, unitDir, writeUnitFile } from './unit.js';

export interface TimerOptions extends RootOptions {
  /** Write the units, daemon-reload, and `enable --now` the timer. @default false */
  install?: boolean;
  /** `disable --now` the timer and delete both units. @default false */
  remove?: boolean;
  /** How often a tick runs: a systemd calendar expression or a time span (see the module comment). @default "hourly" */
  every?: string;
  /** `RandomizedDelaySec=`: each tick waits a random time up to this. @default "1h", or the span of a shorter span `every` */
  randomizedDelay?: string;
}

export interface TimerFile {
  path: string;
  content: string;
}

export interface TimerResult {
  kind: 'systemd' | 'launchd';
  /** systemd only. */
  scope?: UnitScope;
  /** The `.timer` unit, or the launchd label. */
  name: string;
  files: TimerFile[];
  installed: boolean;
  removed: boolean;
}

type Schedule = { kind: 'calendar'; spec: string } | { kind: 'span'; spec: string; seconds: number };

const HEADER = '# Written by release-switcher (timer --install): regenerate it rather than edit it.';
const DEFAULT_EVERY = 'hourly';
const DEFAULT_DELAY_SECONDS = 3600;

/** A setting value: no quoting exists there, so a control character (a line break above all) cannot be written. */
function settingValue(value: string, what: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  if (value.trim() === '' || /[\x00-\x1f\x7f]/.test(value)) {
    throw new ReleaseSwitcherError('USAGE', `${what} ${JSON.stringify(value)} cannot be written into a unit file.`, {
      hint: 'For example --every hourly, --every 15min, --randomized-delay 30min',
    });
  }
  return value.trim();
}

export function parseSchedule(every = DEFAULT_EVERY): Schedule {
  const spec = settingValue(every, '--every');
  const seconds = timespanSeconds(spec);
  if (seconds === undefined) return { kind: 'calendar', spec };
  // infinity is a span too, but a timer that never ticks is no schedule.
  if (seconds <= 0 || seconds === Infinity)
    throw new ReleaseSwitcherError('USAGE', `--every ${spec} is no interval.`, { hint: 'For example --every 15min' });
  return { kind: 'span', spec, seconds };
}

/** A delay longer than a short interval would make the ticks far rarer than asked for. */
function delayOf(schedule: Schedule, randomizedDelay: string | undefined): string {
  if (randomizedDelay !== undefined) {
    const spec = settingValue(randomizedDelay, '--randomized-delay');
    if (!Number.isFinite(timespanSeconds(spec)))
      throw new ReleaseSwitcherError('USAGE', `--randomized-delay takes a finite time span, not "${spec}".`, {
        hint: 'For example --randomized-delay 30min, or 0 for none',
      });
    return spec;
  }
  return schedule.kind === 'span' && schedule.seconds < DEFAULT_DELAY_SECONDS
    ? schedule.spec
    : `${DEFAULT_DELAY_SECONDS / 3600}h`;
}

/** `release-switcher-auto-update-<stem>`, the stem from the configured unit (or label), else the package. */
export function timerStem(config: Config): string {
  const base = (config.unit ?? config.package).replace(/\.service$/, '');
  return `release-switcher-auto-update-${base.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+/, '')}`;
}

function description(config: Config, root: string, what: string): string {
  return settingValue(`${what} ${config.package} (release-switcher root ${root})`, 'The root path').replaceAll(
    '%',
    '%%',
  );
}

/**
 * The tick's command line: the pinned copy of release-switcher through its link (tool/), not this installation's path,
 * which npm or nvm may move; a later copy flips every tick at once.
 */
function tickArgv(root: string, tool: ToolCommand): string[] {
  return [tool.node, tool.cli, '--root', root, 'auto-update'];
}

export function autoUpdateService(options: {
  config: Config;
  root: string;
  scope: UnitScope;
  tool: ToolCommand;
}): string {
  const { config, root, scope } = options;
  // A system service fetches from the registry: it wants the network up. A user manager has no such target.
  const network = scope === 'system' ? ['Wants=network-online.target', 'After=network-online.target'] : [];
  const argv = tickArgv(root, options.tool);
  return [
    HEADER,
    '[Unit]',
    `Description=${description(config, root, 'Auto-update')}`,
    ...network,
    '',
    '[Service]',
    'Type=oneshot',
    `ExecStart=${argv.map(execWord).join(' ')}`,
    // Oneshot units have no start timeout by default: a hung tick would block every later one. Killing
    // one mid-way is safe (the journal; the next tick recovers), so bound it.
    'TimeoutStartSec=1h',
    '',
  ].join('\n');
}

export function autoUpdateTimer(options: { config: Config; root: string; schedule: Schedule; delay: string }): string {
  const { config, root, schedule, delay } = options;
  const when =
    schedule.kind === 'calendar'
      ? [`OnCalendar=${schedule.spec}`, 'Persistent=true']
      : [`OnActiveSec=${schedule.spec}`, `OnUnitActiveSec=${schedule.spec}`];
  return [
    HEADER,
    '[Unit]',
    `Description=${description(config, root, 'Auto-update timer of')}`,
    '',
    '[Timer]',
    ...when,
    `RandomizedDelaySec=${delay}`,
    // The default (1 min) would swallow short intervals; at most one tick an hour costs nothing at 1 s.
    'AccuracySec=1s',
    `Unit=${timerStem(config)}.service`,
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
}

function systemctlIn(units: SystemdTimerUnits, args: string[]) {
  const { scope, env, signal } = units;
  return systemctl(args, { scope, env, signal });
}

function supervisorFailed(scope: UnitScope, args: string[], output: string): ReleaseSwitcherError {
  const command = `systemctl ${scope === 'user' ? '--user ' : ''}${args.join(' ')}`;
  return new ReleaseSwitcherError('SUPERVISOR_FAILED', `${command} failed: ${tail(output, 5)}`, {
    hint:
      scope === 'user'
        ? 'Run it in the user session of the service (XDG_RUNTIME_DIR set), or print the units without --install.'
        : 'Run it as root, or print the units without --install.',
  });
}

/** The timer's two unit files and where they go. */
interface SystemdTimerUnits {
  files: TimerFile[];
  /** `<stem>.timer` */
  name: string;
  scope: UnitScope;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal | undefined;
}

async function installSystemd(units: SystemdTimerUnits): Promise<void> {
  const { files, name, scope, env } = units;
  const [service, timer] = files as [TimerFile, TimerFile];
  await fs.mkdir(path.dirname(service.path), { recursive: true });
  await writeFileAtomic(service.path, service.content);
  await writeUnitFile(timer.path, timer.content, { scope, env }); // and daemon-reload, once for both
  // enable, then restart rather than `enable --now`: a timer already running re-arms with the new schedule.
  for (const args of [
    ['enable', name],
    ['restart', name],
  ]) {
    const result = await systemctlIn(units, args);
    if (result.exitCode !== 0) throw supervisorFailed(scope, args, result.output);
  }
}

/** Files that are gone are fine; a timer that exists must be disabled before its files go, or it keeps running. */
async function removeSystemd(units: SystemdTimerUnits): Promise<boolean> {
  const { files, name, scope } = units;
  const present = (await Promise.all(files.map((f) => pathExists(f.path)))).some(Boolean);
  const disable = await systemctlIn(units, ['disable', '--now', name]);
  if (!present) return false;
  if (disable.exitCode !== 0) throw supervisorFailed(scope, ['disable', '--now', name], disable.output);
  for (const file of files) await fs.rm(file.path, { force: true });
  const reload = await systemctlIn(units, ['daemon-reload']);
  if (reload.exitCode !== 0) throw supervisorFailed(scope, ['daemon-reload'], reload.output);
  return true;
}

async function systemdTimer(config: Config, root: string, options: TimerOptions): Promise<TimerResult> {
  const scope: UnitScope = config.supervisor === 'systemd-system' ? 'system' : 'user';
  const { env, execPath, signal } = resolveRuntime(options);
  const schedule = parseSchedule(options.every);
  // Installing: the pinned copy is made (or found) first, so the tick never names a command that is not there.
  const tool = options.install ? (await ensureTool({ env, node: execPath })).link : linkCommandOf(env);
  const dir = unitDir({ scope, env });
  const stem = timerStem(config);
  const name = `${stem}.timer`;
  const files = [
    { path: path.join(dir, `${stem}.service`), content: autoUpdateService({ config, root, scope, tool }) },
    {
      path: path.join(dir, name),
      content: autoUpdateTimer({ config, root, schedule, delay: delayOf(schedule, options.randomizedDelay) }),
    },
  ];
  const units = { files, name, scope, env, signal };
  if (options.install) await installSystemd(units);
  const removed = options.remove ? await removeSystemd(units) : false;
  return { kind: 'systemd', scope, name, files, installed: options.install === true, removed };
}

/** launchd knows intervals, not calendar expressions; the common names are mapped, anything else is refused. */
function intervalSeconds(schedule: Schedule): number {
  if (schedule.kind === 'span') return Math.max(1, Math.round(schedule.seconds));
  const named: Record<string, number> = { minutely: 60, hourly: 3600, daily: 86_400, weekly: 604_800 };
  const seconds = named[schedule.spec];
  if (seconds === undefined)
    throw new ReleaseSwitcherError(
      'UNSUPPORTED',
      `launchd cannot run on the calendar "${schedule.spec}", only at an interval.`,
      { hint: 'Use a span or a name: --every 15min, --every hourly, --every daily' },
    );
  return seconds;
}

/**
 * launchdPlist has no StartInterval (it writes service jobs), so it is added to its text here. No
 * randomized delay exists under launchd; StartInterval counts from each load, which already differs per host.
 */
function launchdTimer(config: Config, root: string, options: TimerOptions): TimerResult {
  if (options.install || options.remove) {
    throw new ReleaseSwitcherError(
      'UNSUPPORTED',
      'release-switcher prints the launchd timer but does not load or unload it.',
      {
        hint: 'Save the printed plist to the path shown, then: launchctl bootstrap gui/$(id -u) PATH (launchctl bootout gui/$(id -u) PATH to remove it).',
      },
    );
  }
  const label = `org.release-switcher.auto-update.${timerStem(config).replace(/^release-switcher-auto-update-/, '')}`;
  const log = path.join(root, 'auto-update.log');
  const { env } = resolveRuntime(options);
  const plist = launchdPlist({
    label,
    program: tickArgv(root, linkCommandOf(env)),
    keepAlive: false,
    stdoutPath: log,
    stderrPath: log,
  });
  const interval = intervalSeconds(parseSchedule(options.every));
  const content = plist.replace(
    /<\/dict>\n<\/plist>\n$/,
    `  <key>StartInterval</key>\n  <integer>${interval}</integer>\n</dict>\n</plist>\n`,
  );
  const file = path.join(env.HOME || os.homedir(), 'Library', 'LaunchAgents', `${label}.plist`);
  return { kind: 'launchd', name: label, files: [{ path: file, content }], installed: false, removed: false };
}

/** Print (or install, or remove) the auto-update timer of a root. */
export async function timer(options: TimerOptions): Promise<TimerResult> {
  if (options.install && options.remove)
    throw new ReleaseSwitcherError('USAGE', 'Pass --install or --remove, not both.', {
      hint: 'release-switcher timer --install',
    });
  const config = await readConfig(options.root);
  const root = layoutOf(options.root).root;
  return config.supervisor === 'launchd' ? launchdTimer(config, root, options) : systemdTimer(config, root, options);
}
