/**
 * What adopting a running install learns from its service, and the commands it leaves behind: the port and Node
 * options of the unit that runs it (so the health URL names the port the service really listens on), and a
 * `<root>/bin/<name>` for each of the package's commands that always runs `current` (npm -g's own link keeps
 * running the adopted copy, which never changes again).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../store/config.js';
import { PRESETS, portSourcesOf } from '../presets/index.js';
import { timespanSeconds } from '../service/timespan.js';
import { type ExistingUnit, nodeCommandOf, readExistingUnit } from './existing-unit.js';
import { findServicePort } from './service-port.js';
import { isExecutable, lookUp } from '../platform/fs.js';
import { SYSTEMD_EXEC_PATH, cliCommandOf } from './cli-command.js';
import { DROP_IN_NAME, scopeOf, unitNameOf } from './unit.js';

export interface ServiceFound {
  unit: string;
  execStart: string[] | null;
  /** Where the port came from, e.g. `ExecStart --port 19876`, `Environment=OPENCLAW_GATEWAY_PORT=19876` or `config <file> gateway.port`. */
  port: { port: number; from: string } | null;
  /** What could not be read while looking for the port (an unreadable config file, a missing EnvironmentFile). */
  portNotes: string[];
  nodeOptions: string[];
  timeoutStopSeconds: number | null;
  restartSeconds: number | null;
  /** The health URL written with the found port, when it was rewritten. */
  healthUrl?: string;
}

export async function readService(config: Config, env: NodeJS.ProcessEnv): Promise<ServiceFound | undefined> {
  if ((config.supervisor !== 'systemd' && config.supervisor !== 'systemd-system') || !config.unit) return undefined;
  const name = unitNameOf(config);
  const unit: ExistingUnit | undefined = await readExistingUnit(name, {
    scope: scopeOf(config),
    env,
    skip: (f) => path.basename(f) === DROP_IN_NAME,
  });
  if (!unit) return undefined;
  const span = (v: string | undefined) => timespanSeconds(v) ?? null;
  // In the service's own order (openclaw: --port, OPENCLAW_GATEWAY_PORT, then gateway.port of its config file).
  const sources = portSourcesOf(config);
  const { port, notes } = await findServicePort(unit, sources, env);
  return {
    unit: name,
    execStart: unit.execStart,
    port,
    portNotes: notes,
    nodeOptions: nodeCommandOf(unit.execStart)?.nodeOptions ?? [],
    timeoutStopSeconds: span(unit.service.TimeoutStopSec ?? unit.service.TimeoutSec),
    restartSeconds: span(unit.service.RestartSec),
  };
}

/**
 * The Node the configured unit runs the package with (`node …` in ExecStart, or the Node of the package command it runs:
 * install-cli.sh's private `~/.openclaw/tools/node/bin/node`, a shim's `node`), when it can be told without running
 * anything. Adopt makes it the root's Node (`--node` unless given), so staging, the rehearsal and the unit keep it.
 */
export async function serviceNodeOf(
  config: Pick<Config, 'supervisor' | 'unit' | 'package'>,
  env: NodeJS.ProcessEnv,
  bins: Record<string, string>,
): Promise<string | undefined> {
  if ((config.supervisor !== 'systemd' && config.supervisor !== 'systemd-system') || !config.unit) return undefined;
  const asConfig = config as Config;
  const unit = await readExistingUnit(unitNameOf(asConfig), {
    scope: scopeOf(asConfig),
    env,
    skip: (f) => path.basename(f) === DROP_IN_NAME,
  }).catch(() => undefined);
  if (!unit) return undefined;
  const node = nodeCommandOf(unit.execStart)?.node;
  if (node) return path.isAbsolute(node) ? node : await lookUp(node, SYSTEMD_EXEC_PATH);
  const cli = await cliCommandOf(unit.execStart, { pkg: config.package, bins, unitPath: unit.environment.PATH });
  return cli?.node ?? undefined;
}

export interface StableCommand {
  name: string;
  /** `<root>/bin/<name>`: runs `<node> <root>/current/<bin> "$@"`. */
  path: string;
  /** npm -g's link of the same name, which still runs the adopted copy. */
  npmLink: string;
  /**
   * Every command found that runs the adopted copy: npm -g's link when it exists, and scripts that exec it (the
   * wrapper of OpenClaw's install-cli.sh in `<prefix>/bin`, pnpm's shim in `$PNPM_HOME`), found in the folders above
   * the install. `init --link-bin` points each at `path`.
   */
  runsAdopted: { path: string; kind: 'link' | 'script' }[];
}

/** Folders above the install (its given and its real path) where a command of it may live: `<dir>/bin/<name>`, `<dir>/<name>`. */
const COMMAND_SEARCH_DEPTH = 6;

/** The commands named `name` that run the install at `real` (a symlink into it, or a script that execs a file of it). */
async function userCommandsOf(
  name: string,
  install: { source: string; real: string; pkg: string },
): Promise<{ path: string; kind: 'link' | 'script' }[]> {
  const candidates = new Set<string>();
  for (const start of [install.source, install.real]) {
    let dir = path.dirname(start);
    for (let i = 0; i < COMMAND_SEARCH_DEPTH && dir !== path.dirname(dir); i++, dir = path.dirname(dir))
      candidates.add(path.join(dir, 'bin', name)).add(path.join(dir, name));
  }
  const found: { path: string; kind: 'link' | 'script' }[] = [];
  for (const file of candidates) {
    const stat = await fs.lstat(file).catch(() => undefined);
    if (!stat || !(stat.isSymbolicLink() || stat.isFile())) continue;
    if (!(await isExecutable(file))) continue;
    const command = await cliCommandOf([file], { pkg: install.pkg, bins: { [name]: '' } });
    if (!command || (await fs.realpath(command.pkgDir).catch(() => command.pkgDir)) !== install.real) continue;
    found.push({ path: file, kind: stat.isSymbolicLink() ? 'link' : 'script' });
  }
  return found;
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** Lines of a command script that give it the service's mode (openclaw: external supervisor) and name who updates it. */
function presetLines(root: string, preset: string | undefined): string[] {
  const found = preset && Object.hasOwn(PRESETS, preset) ? PRESETS[preset] : undefined;
  const lines = Object.entries(found?.environment ?? {}).map(
    ([name, value]) => `${name}=${quote(value)}; export ${name}`,
  );
  const self = found?.selfUpdate;
  if (self) {
    const note = `This ${preset} is run by release-switcher (root ${root}); update it with: release-switcher --root ${root} update`;
    const allowed = self.allowed.map((word) => quote(word)).join('|');
    // The service refuses its own updater too (external mode); the note says what to run instead.
    lines.push(
      `if [ "$1" = ${quote(self.command)} ]; then case "$2" in ${allowed}) ;; *) echo ${quote(note)} >&2 ;; esac; fi`,
    );
  }
  return lines;
}

/** One small sh script per command of the package; `<root>/bin` is ours, rewritten on every adopt. */
export async function writeStableCommands(options: {
  root: string;
  source: string;
  /** The install's real folder (its links resolved). @default source */
  real?: string;
  /** The package's name (what commands of it are recognised by). */
  pkg: string;
  node: string;
  bins: Record<string, string>;
  /** The root's preset: its environment and self-update note go into each script. */
  preset?: string;
}): Promise<StableCommand[]> {
  const dir = path.join(options.root, 'bin');
  const commands: StableCommand[] = [];
  // npm -g puts a package in <prefix>/lib/node_modules/<name> and its commands in <prefix>/bin.
  const prefix = path.resolve(
    options.source,
    ...(path.basename(path.dirname(options.source)).startsWith('@') ? ['..', '..', '..', '..'] : ['..', '..', '..']),
  );
  for (const [name, bin] of Object.entries(options.bins)) {
    await fs.mkdir(dir, { recursive: true });
    const file = path.join(dir, name);
    const script = [
      '#!/bin/sh',
      `# Written by release-switcher (init --adopt): runs ${name} of the current release.`,
      ...presetLines(options.root, options.preset),
      `exec ${quote(options.node)} ${quote(path.join(options.root, 'current', path.posix.normalize(bin)))} "$@"`,
      '',
    ].join('\n');
    await fs.writeFile(file, script, { mode: 0o755 });
    const runsAdopted = await userCommandsOf(name, {
      source: options.source,
      real: options.real ?? options.source,
      pkg: options.pkg,
    });
    commands.push({ name, path: file, npmLink: path.join(prefix, 'bin', name), runsAdopted });
  }
  return commands;
}
