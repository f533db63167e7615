/**
 * A unit's environment as its manager would give its next start, read from the unit's definition (`systemctl show`),
 * never from the environment a running process shows: /proc/<pid>/environ is memory the process itself may rewrite
 * (same uid, /proc/<pid>/mem), so the service's account could put `NODE_OPTIONS=--require=<its file>` there for the
 * next command root builds from it. Built as systemd.exec(5) builds it: the manager's environment block (its
 * show-environment, systemd's default PATH where it has none), then what `User=` gives (HOME, USER, LOGNAME, SHELL from
 * the password database), PassEnvironment= (looked up in that block: the manager's own process environment is not
 * asked), Environment=, the files of EnvironmentFile= (which override Environment=), less UnsetEnvironment=.
 *
 * An EnvironmentFile= is read without following a link another account placed: as root only when every folder on its
 * real path is root's and writable by nobody else (then no one else can change what it names) and the file opened
 * with O_NOFOLLOW; otherwise by a process that runs as the service's account, whose rights then bound what it reads.
 */
import { ReleaseSwitcherError } from '../model/errors.js';
import type { AccountInfo } from '../platform/accounts.js';
import type { RunAs } from '../platform/run-as.js';
import { type UnitScope, systemctl } from '../service/systemctl.js';
import { splitUnitWords } from '../unit-files/existing-unit.js';
import { DEFAULT_PATH, parseEnvironmentFile, readEnvironmentFile } from './environment-file.js';

export { DEFAULT_PATH, parseEnvironmentFile, rootsAlone } from './environment-file.js';

/** The properties of `systemctl show` the environment is built from. */
export interface UnitEnvironmentProperties {
  /** The manager's own environment (`systemctl show-environment`), one `NAME=value` a line. */
  managerEnvironment: string;
  /** `Environment=`, as `systemctl show` prints it (words, quoted where needed). */
  environment: string;
  /** One `EnvironmentFiles=` line each: `PATH (ignore_errors=yes|no)`. */
  environmentFiles: readonly string[];
  passEnvironment: string;
  unsetEnvironment: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `systemctl show` output as property → the values of each line naming it (EnvironmentFiles= comes once a file). */
export function showProperties(output: string): Map<string, string[]> {
  const props = new Map<string, string[]>();
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    props.set(key, [...(props.get(key) ?? []), line.slice(eq + 1)]);
  }
  return props;
}

/** The files of `EnvironmentFiles=` lines: `{file, optional}` (a `-` prefix in the unit: ignore_errors=yes). */
export function environmentFilesOf(lines: readonly string[]): Array<{ file: string; optional: boolean }> {
  const out: Array<{ file: string; optional: boolean }> = [];
  for (const line of lines) {
    const match = /^(\/.*?) \(ignore_errors=(yes|no)\)$/.exec(line.trim());
    if (match) out.push({ file: match[1]!, optional: match[2] === 'yes' });
  }
  return out;
}

/** `NAME=value` words (Environment=, show-environment lines) as an object; malformed names left out as systemd does. */
function assignments(words: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq > 0 && NAME.test(word.slice(0, eq))) env[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return env;
}

/** The environment systemd gives a start of the unit, from its properties, the account and its files' text. */
export function unitEnvironment(
  props: UnitEnvironmentProperties,
  options: { account: Pick<AccountInfo, 'name' | 'home' | 'shell'> | undefined; files: readonly string[] },
): Record<string, string> {
  const manager = assignments(props.managerEnvironment.split('\n'));
  const own: Record<string, string> = options.account
    ? {
        HOME: options.account.home,
        USER: options.account.name,
        LOGNAME: options.account.name,
        SHELL: options.account.shell || '/bin/sh',
      }
    : {};
  const passed = Object.fromEntries(
    splitUnitWords(props.passEnvironment)
      .filter((name) => manager[name] !== undefined)
      .map((name) => [name, manager[name]!]),
  );
  // The manager's block goes to every process it starts (systemctl(1) show-environment), then the rest in this order.
  const env: Record<string, string> = {
    PATH: DEFAULT_PATH,
    ...manager,
    ...own,
    ...passed,
    ...assignments(splitUnitWords(props.environment)),
  };
  for (const text of options.files) Object.assign(env, parseEnvironmentFile(text));
  for (const word of splitUnitWords(props.unsetEnvironment)) {
    const eq = word.indexOf('=');
    if (eq < 0) delete env[word];
    else if (env[word.slice(0, eq)] === word.slice(eq + 1)) delete env[word.slice(0, eq)];
  }
  return env;
}

/**
 * `unit`'s environment from its definition. `as`: the account the service runs as, when root acts for it (its files
 * are read as described above); `account`: what `User=` gives (system units; a user unit's HOME comes from its manager).
 */
export async function readUnitEnvironment(options: {
  unit: string;
  scope: UnitScope;
  env: NodeJS.ProcessEnv;
  account: AccountInfo | undefined;
  as: RunAs | undefined;
  signal?: AbortSignal | undefined;
}): Promise<Record<string, string>> {
  const call = { scope: options.scope, env: options.env, signal: options.signal };
  const wanted = ['Environment', 'EnvironmentFiles', 'PassEnvironment', 'UnsetEnvironment'];
  const shown = await systemctl(['show', options.unit, ...wanted.map((p) => `--property=${p}`)], call);
  const manager = await systemctl(['show-environment'], call);
  if (shown.exitCode !== 0 || manager.exitCode !== 0)
    throw new ReleaseSwitcherError(
      'SUPERVISOR_FAILED',
      `The environment of ${options.unit} could not be read from its manager: ${shown.exitCode !== 0 ? shown.output : manager.output}`,
      { hint: `Check the unit (systemctl ${options.scope === 'user' ? '--user ' : ''}show ${options.unit}).` },
    );
  const props = showProperties(shown.output);
  const first = (key: string) => props.get(key)?.[0] ?? '';
  const files: string[] = [];
  for (const { file, optional } of environmentFilesOf(props.get('EnvironmentFiles') ?? [])) {
    const text = await readEnvironmentFile(file, options.as, options.signal);
    if (typeof text === 'string') files.push(text);
    else if (!optional)
      throw new ReleaseSwitcherError(
        'SUPERVISOR_FAILED',
        `EnvironmentFile=${file} of ${options.unit} cannot be read${options.as ? ` as ${options.as.name}` : ''} (${text.why}): the unit's environment is unknown. Nothing was changed.`,
        {
          hint: `Fix the file or the unit's EnvironmentFile= line (systemctl cat ${options.unit}), then run it again.`,
        },
      );
  }
  return unitEnvironment(
    {
      managerEnvironment: manager.output,
      environment: first('Environment'),
      environmentFiles: props.get('EnvironmentFiles') ?? [],
      passEnvironment: first('PassEnvironment'),
      unsetEnvironment: first('UnsetEnvironment'),
    },
    { account: options.scope === 'system' ? options.account : undefined, files },
  );
}
