/**
 * Before a unit with commands run as root for the service's account (`ExecStartPre=-+…boot-check`, the hold's
 * `ExecCondition=+…`) is written or printed: nothing such a command runs or reads may be changed by an account other
 * than root. Its Node, release-switcher's own files, and the root it acts on (with its config.json) must be root's, in
 * folders only root may write, up to `/`. Otherwise the account (or any other) would choose what root runs: its own
 * `node` binary, a CLI it replaced, a config naming another Node. The unit text itself runs every such command through
 * `env -i` with a fixed PATH (unit-text.ts), so the unit's PATH, NODE_OPTIONS and HOME never reach it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import { untrustedByRoot } from '../platform/privileged-env.js';
import { currentAccount, lookupAccount, ownerName } from '../platform/accounts.js';
import { runCaptured } from '../platform/subprocess.js';
import type { ToolCommand } from '../tool/index.js';
import type { Config } from '../store/config.js';
import type { ExistingUnit } from './existing-unit.js';
import { layoutOf } from '../store/layout.js';
import { type ServiceOptions, actsForServiceAccount } from './unit-text.js';

/**
 * `service` with the boot-check a root-run unit line may hold: root's pinned copy of release-switcher (`tool`, through
 * its `current` link), never the service's own Node (it may be the account's: nvm, pnpm under its home).
 * UNSUPPORTED, naming the path and who may change it, when it is not root's alone.
 */
export function privilegedService(
  config: Config,
  root: string,
  service: ServiceOptions,
  tool: ToolCommand,
): ServiceOptions {
  if (!actsForServiceAccount(config, root)) return service;
  const { root: dir, config: configFile } = layoutOf(root);
  refuse(nearestExisting(dir), `the root ${dir}`, rootHint(dir));
  if (fs.existsSync(configFile)) refuse(configFile, `the root's ${path.basename(configFile)}`, rootHint(dir));
  if (service.bootCheck === null) return service;
  if (service.bootCheck !== undefined) {
    refuse(service.bootCheck[0] ?? '', 'the boot-check command', 'Name a program only root may change.');
    return service;
  }
  // Root's pinned copy (its tool home, /var/lib/release-switcher/tool): its Node and its CLI, the link and the copy it
  // names, must be root's alone, up to /.
  const own =
    "Run unit --install as root with root's own tool home (/var/lib/release-switcher/tool, or RELEASE_SWITCHER_TOOL_HOME naming a folder only root may write).";
  // A copy not made yet (the unit printed, not installed) is judged by where it will be made.
  refuse(nearestExisting(tool.node), "release-switcher's pinned Node", own);
  refuse(nearestExisting(tool.cli), 'release-switcher itself', own);
  return { ...service, bootCheck: [tool.node, tool.cli, '--root', dir, 'boot-check'] };
}

/**
 * Variables the dynamic loader and libc read at every program's start: `env` on a `+` line is an ordinary dynamically
 * linked program, so whatever these name is loaded into it as root before it can empty its environment.
 */
const LOADER_VARIABLE = /^(LD_\w+|GCONV_PATH|LOCPATH|NLSPATH|HOSTALIASES|RES_OPTIONS|MALLOC_\w+|GLIBC_TUNABLES)$/;

/**
 * The unit's own environment reaches every command of it, `+` lines included, before `env -i` can clear it: an
 * `EnvironmentFile=` another account may change (it could add LD_PRELOAD), or a loader variable naming a file another
 * account may change, would make root load that account's code. UNSUPPORTED, naming the file and who may change it.
 */
export function refuseEnvironmentInjection(config: Config, root: string, theirs: ExistingUnit | undefined): void {
  if (!actsForServiceAccount(config, root) || theirs === undefined) return;
  const hint =
    "Keep the unit's environment files where only root may write (e.g. /etc/<service>/env, root's 0600), and loader variables out of a unit root acts on; or let the service's account keep its own root (sudo -u ACCOUNT release-switcher init …): its boot-check then runs as the account.";
  for (const entry of theirs.environmentFiles ?? []) {
    const file = entry.replace(/^-/, '');
    refuse(
      nearestExisting(file),
      `the unit's EnvironmentFile=${file}`,
      hint,
      'Root would load what that account wrote there (LD_PRELOAD).',
    );
  }
  for (const [name, value] of Object.entries(theirs.environment)) {
    if (!LOADER_VARIABLE.test(name)) continue;
    for (const word of value.split(/[\s:]+/).filter((w) => w.startsWith('/')))
      refuse(
        nearestExisting(word),
        `the unit's ${name}=${value}`,
        hint,
        'Root would load what that account put there.',
      );
  }
}

/**
 * Root writing the unit of a root its service account keeps itself: the boot-check then runs as that account, yet names
 * root's pinned copy (root's files, which the account may run and not change). It must reach them: a tool home in a
 * folder closed to the account (under /root, a 0700 RELEASE_SWITCHER_TOOL_HOME) would fail at every start, hidden by
 * the `-`. Asked as the account (`test -x`, `test -r`); UNSUPPORTED naming the path it cannot reach.
 */
export async function assertBootCheckReachable(
  config: Config,
  root: string,
  bootCheck: readonly string[],
): Promise<void> {
  if (process.getuid?.() !== 0 || actsForServiceAccount(config, root)) return;
  const owner = ownerName(root);
  if (owner === undefined || owner === currentAccount().name) return;
  const who = lookupAccount(owner);
  if (!who) return;
  const [node, cli] = bootCheck;
  for (const [flag, file] of [
    ['-x', node],
    ['-r', cli],
  ] as const) {
    if (!file) continue;
    const probe = await runCaptured('/usr/bin/test', [flag, file], {
      env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
      timeoutMs: 15_000,
      as: who,
      cwd: '/',
    });
    if (!probe.failed) continue;
    throw new ReleaseSwitcherError(
      'UNSUPPORTED',
      `The unit's boot-check runs as ${who.name} (the root is its own) and cannot reach release-switcher's pinned copy: ${file} is not ${flag === '-x' ? 'executable' : 'readable'} by ${who.name}.`,
      {
        hint: "Keep root's tool home where every account may read it (the default /var/lib/release-switcher/tool; RELEASE_SWITCHER_TOOL_HOME names another), or let the account write its unit itself.",
        details: { path: file, account: who.name },
      },
    );
  }
}

function rootHint(dir: string): string {
  return `Keep a root that root acts on where only root may write (e.g. /var/lib/release-switcher/<app>, made by sudo release-switcher init), or let the service's account keep its own root (sudo -u ACCOUNT release-switcher init …): its boot-check then runs as the account, not as root. ${dir} was not changed.`;
}

function refuse(
  file: string,
  what: string,
  hint: string,
  consequence = 'Root would run or read what that account put there.',
): void {
  const why = path.isAbsolute(file) ? untrustedByRoot(file) : `${file || '(none)'} is not an absolute path`;
  if (why === undefined) return;
  throw new ReleaseSwitcherError(
    'UNSUPPORTED',
    `The unit's boot-check runs as root (ExecStartPre=+) for the service's account, and ${what} (${file}) is not root's alone: ${why}. ${consequence}`,
    { hint, details: { path: file, why } },
  );
}

/** `dir`, or its nearest parent that exists (a root not made yet is judged by where it will be made). */
function nearestExisting(dir: string): string {
  let at = path.resolve(dir);
  while (!fs.existsSync(at) && at !== path.dirname(at)) at = path.dirname(at);
  return at;
}
