/**
 * Every CLI command's definition: name, summary, arguments, options, examples. Help and argument
 * parsing are generated from these; the command's code is imported only when it runs.
 */
import type { CommandDef, OptionDef } from './definition-types.js';
import { INIT_OPTIONS } from './init-options.js';
import { SIGNATURE_POLICIES } from '../store/config.js';

export type { CommandDef, CommandModule, OptionDef } from './definition-types.js';
export { valueAfterFlag } from './definition-types.js';

/** The shells `completion` writes a script for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const planOption: Record<string, OptionDef> = {
  'dry-run': { type: 'boolean', description: 'print the plan (what would change and why); change nothing' },
};

const waitOption: Record<string, OptionDef> = {
  wait: {
    type: 'string',
    value: 'SECONDS',
    optionalValue: true,
    description: 'wait for a busy lock instead of exiting 5: up to SECONDS, or alone as long as it takes',
  },
};

/** docs/exit-codes-and-json.md (exit 0): `--wait` on a command whose work may be handed to a runner also waits for the runner's verdict. */
const waitVerdictOption: Record<string, OptionDef> = {
  wait: {
    ...waitOption.wait!,
    description:
      'wait for a busy lock (up to SECONDS; alone: as long as it takes) and, when the work is scheduled (handed to a runner), for its verdict, and exit with its code',
  },
};

const dryRunOption: Record<string, OptionDef> = {
  'dry-run': { type: 'boolean', description: 'say what would be fetched, from where and how big; change nothing' },
};

const noPreflightOption: Record<string, OptionDef> = {
  'no-preflight': { type: 'boolean', description: 'skip the rehearsal of the candidate before the flip' },
};
const acceptCapabilitiesOption: Record<string, OptionDef> = {
  'accept-capabilities': {
    type: 'boolean',
    description:
      "the target's finalize accepts each plugin's reviewed capability changes (OpenClaw's --accept-capabilities; recorded on the transaction)",
  },
};
const checkpointOption: Record<string, OptionDef> = {
  checkpoint: {
    type: 'string',
    value: 'ID',
    description:
      'put this checkpoint back before the target starts (one holding the state the target left: see release-switcher checkpoints), e.g. what a rollback set aside',
  },
};
const runOnNodeOption: Record<string, OptionDef> = {
  node: {
    type: 'string',
    value: 'PATH',
    description:
      "run the target on this Node: the service moves to it with the flip (the unit release-switcher wrote, config.json's node) and back with any way back; default: the Node the target last ran on, else the service's",
  },
};
const verifySignaturesOption: Record<string, OptionDef> = {
  'verify-signatures': {
    type: 'string',
    value: 'WHEN',
    description:
      'auto | always | never: check the registry signature (auto: where the registry publishes keys; default from init)',
    choices: SIGNATURE_POLICIES,
  },
};
const handoffOption: Record<string, OptionDef> = {
  handoff: {
    type: 'string',
    value: 'WHERE',
    description: 'auto | always | never: run the switch outside the service (auto: when called from inside it)',
    choices: ['auto', 'always', 'never'],
  },
};

/** `--all` (docs/fleet.md): the command on every root the host's lists of roots name, one root at a time. */
const allOption: Record<string, OptionDef> = {
  all: {
    type: 'boolean',
    description:
      "run on every root of this host (this account's list of roots and the host's), one at a time; one summary at the end, exit code the worst root's",
  },
};
/** With `--all` on a command that changes roots: the canary, and when to stop. */
const rolloutOptions: Record<string, OptionDef> = {
  ...allOption,
  canary: {
    type: 'string',
    value: 'ROOT',
    description:
      'with --all: the root that goes first, alone; the rest run only when it succeeds (default: the first listed)',
  },
  'max-failures': {
    type: 'string',
    value: 'N',
    description:
      'with --all: stop once N roots have failed (default 1: at the first failure); a failed canary always stops',
  },
};

export const GLOBAL_OPTIONS: Record<string, OptionDef> = {
  root: {
    type: 'string',
    value: 'DIR',
    description:
      'release root (default $RELEASE_SWITCHER_ROOT, else ${XDG_DATA_HOME:-~/.local/share}/release-switcher)',
  },
  json: { type: 'boolean', description: 'print exactly one JSON document on stdout' },
  help: { type: 'boolean', short: 'h', description: 'help for the command' },
  quiet: { type: 'boolean', short: 'q', description: 'no progress on stderr (errors still go there)' },
  version: { type: 'boolean', short: 'V', description: 'print the version of release-switcher' },
};

export const COMMANDS: CommandDef[] = [
  {
    name: 'init',
    summary: 'create a root, or change the settings of an existing one',
    args: '--package NAME [settings] [--adopt PATH]',
    options: {
      ...INIT_OPTIONS,
      ...waitOption,
    },
    examples: [
      'release-switcher init --package openclaw --node /opt/node24/bin/node',
      'release-switcher --root /srv/app init --package my-gateway --registry http://127.0.0.1:4873',
    ],
    load: () => import('./commands/init.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'install',
    summary: 'fetch, verify, extract, install dependencies, smoke-check and seal a release; never touches current',
    args: 'SPEC',
    options: { ...dryRunOption, ...verifySignaturesOption, ...waitOption },
    examples: [
      'release-switcher install openclaw@2026.9.6',
      'release-switcher install openclaw@beta',
      'release-switcher install ./openclaw-2026.9.6.tgz',
    ],
    load: () => import('./commands/install.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'list',
    summary: 'all releases with their state and marks',
    args: '',
    options: { ...allOption },
    examples: ['release-switcher list', 'release-switcher list --json', 'release-switcher list --all'],
    load: () => import('./commands/list.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'checkpoints',
    summary:
      'the state checkpoints: taken before each release first starts, and the state a rollback set aside (what the newer release left)',
    args: '',
    options: {},
    examples: ['release-switcher checkpoints', 'release-switcher checkpoints --json'],
    load: () => import('./commands/checkpoints.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'status',
    summary: 'what runs, and the last or in-flight transaction',
    args: '',
    options: { ...allOption },
    examples: ['release-switcher status --json', 'release-switcher status --all'],
    load: () => import('./commands/status.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'update',
    summary: 'install SPEC if needed, then switch to it: restart, verify, roll back on failure',
    args: '[SPEC]',
    options: {
      ...dryRunOption,
      channel: {
        type: 'string',
        value: 'NAME',
        description:
          "with no SPEC, follow this channel for this update: stable (latest) | beta (the newer of beta and latest) | extended-stable; default: config.json's channel, else the service's own (openclaw: update.channel), else stable",
        choices: ['stable', 'beta', 'extended-stable'],
      },
      ...verifySignaturesOption,
      ...handoffOption,
      ...noPreflightOption,
      ...acceptCapabilitiesOption,
      ...runOnNodeOption,
      ...waitVerdictOption,
      ...rolloutOptions,
    },
    examples: [
      'release-switcher update',
      'release-switcher update --all --canary /srv/gateways/team-a --max-failures 2',
      'release-switcher update --channel beta',
      'release-switcher update --node /opt/node-v26/bin/node   # move the service to Node 26, with its way back',
      'release-switcher update openclaw@2026.9.6 --json',
      'release-switcher update --wait   # from inside the service: wait for the verdict of the handed-off update',
    ],
    load: () => import('./commands/update.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'switch',
    summary: 'activate an installed release: flip, restart, verify, roll back on failure',
    args: 'VERSION',
    options: {
      ...planOption,
      ...handoffOption,
      ...noPreflightOption,
      ...acceptCapabilitiesOption,
      ...checkpointOption,
      ...runOnNodeOption,
      ...waitVerdictOption,
    },
    examples: [
      'release-switcher switch 2026.9.6',
      'release-switcher switch 2026.9.6 --checkpoint 20261125210331-45f00a-aside',
    ],
    load: () => import('./commands/switch.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'rollback',
    summary: 'switch back to previous (or VERSION)',
    args: '[VERSION]',
    options: {
      ...planOption,
      ...handoffOption,
      ...acceptCapabilitiesOption,
      ...checkpointOption,
      ...runOnNodeOption,
      ...waitVerdictOption,
      ...rolloutOptions,
    },
    examples: ['release-switcher rollback', 'release-switcher rollback 2026.9.4', 'release-switcher rollback --all'],
    load: () => import('./commands/rollback.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'prune',
    summary: 'remove old releases; never current, previous or pinned ones',
    args: '',
    options: {
      keep: { type: 'string', value: 'N', description: 'releases to keep besides current, previous and pinned' },
      ...planOption,
      ...waitOption,
    },
    examples: ['release-switcher prune --keep 2'],
    load: () => import('./commands/prune.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'doctor',
    summary:
      "check layout, links, manifests, leftovers, locks, disk, the unit, drift, linger and the tool's own pinned copy that the unit and the timer run",
    args: '',
    options: {
      fix: { type: 'boolean', description: 'repair what is safe to repair, and say what was done' },
      deep: {
        type: 'boolean',
        description: 're-hash every file of every release (default: only files whose stat fingerprint moved)',
      },
      ...allOption,
    },
    examples: [
      'release-switcher doctor',
      'release-switcher doctor --fix --json',
      'release-switcher doctor --deep',
      'release-switcher doctor --all',
    ],
    load: () => import('./commands/doctor.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'pin',
    summary: 'keep a release: prune never removes a pinned one',
    args: 'VERSION',
    options: { ...waitOption },
    examples: ['release-switcher pin 2026.9.5'],
    load: () => import('./commands/pin.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'unpin',
    summary: 'let prune remove a release again',
    args: 'VERSION',
    options: { ...waitOption },
    examples: ['release-switcher unpin 2026.9.5'],
    load: () => import('./commands/unpin.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'recover',
    summary: 'finish or undo an interrupted transaction and sweep leftovers',
    args: '',
    options: { ...waitOption },
    examples: ['release-switcher recover --json'],
    load: () => import('./commands/recover.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'forget',
    summary: "take a root off the host's lists of roots that --all reads (the root itself is left as it is)",
    args: '[DIR]',
    options: {
      missing: { type: 'boolean', description: 'forget every listed root that no longer exists' },
    },
    examples: [
      'release-switcher forget /srv/gateways/team-b',
      'release-switcher forget --missing',
      'release-switcher --root /srv/gateways/team-b forget',
    ],
    load: () => import('./commands/forget.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'unit',
    summary: 'print (or --install) the systemd drop-in or unit, or the launchd plist, that runs <root>/current',
    args: '',
    options: {
      install: {
        type: 'boolean',
        description: 'write it where the service manager reads it (systemd: and daemon-reload)',
      },
      entry: {
        type: 'string',
        value: 'PATH',
        description:
          "script to run inside the release (default: the file the existing unit runs, else the preset's, else package.json main)",
      },
      arg: { type: 'string', multiple: true, value: 'ARG', description: 'argument after the entry (repeatable)' },
      'node-option': {
        type: 'string',
        multiple: true,
        value: 'OPT',
        description:
          'option for Node itself, before the entry, e.g. --node-option=--max-old-space-size=8192 (repeatable)',
      },
    },
    examples: ['release-switcher unit', 'release-switcher unit --install --entry server.js --arg=--port --arg 8080'],
    load: () => import('./commands/unit.js'), // lazy: start-up: only the command run is loaded
  },
];

COMMANDS.push(
  {
    name: 'boot-check',
    summary: 'for ExecStartPre=: count starts of a pending release, flip back when its tries are spent; always exits 0',
    args: '',
    options: { tries: { type: 'string', value: 'N', description: 'starts a pending release gets (default 3)' } },
    examples: [
      'ExecStartPre=/usr/bin/node /usr/lib/node_modules/release-switcher/dist/cli/main.js --root /srv/app boot-check',
    ],
    load: () => import('./commands/boot-check.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'run-transaction',
    summary: 'carry out a scheduled transaction (started by release-switcher itself, outside the service)',
    args: 'ID',
    hidden: true,
    options: {},
    examples: ['release-switcher run-transaction 20261121021500-ab12cd'],
    load: () => import('./commands/run-transaction.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'handshake',
    summary: 'say what this CLI is: {tool, version, protocol, node, cli} (doctor asks the commands units run)',
    args: '',
    hidden: true,
    options: {},
    examples: ['release-switcher handshake --json'],
    load: () => import('./commands/handshake.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'check',
    summary: 'whether the channel has a version this host would take now, and why (read-only)',
    args: '',
    options: { ...allOption },
    examples: ['release-switcher check', 'release-switcher check --json', 'release-switcher check --all'],
    load: () => import('./commands/check.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'auto-update',
    summary:
      'one tick of the timer: update or roll back as check says; skipped (exit 0) when disabled, paused or busy; exit 3 when the update rolled back',
    args: '',
    options: { ...handoffOption, ...waitVerdictOption },
    examples: [
      'release-switcher auto-update',
      'RELEASE_SWITCHER_NO_AUTO_UPDATE=1 release-switcher auto-update   # skipped',
    ],
    load: () => import('./commands/auto-update.js'), // lazy: start-up: only the command run is loaded
  },
  {
    name: 'timer',
    summary:
      'print (or --install, --remove) the systemd timer, or launchd plist, that runs auto-update; --pause, --resume its ticks',
    args: '',
    options: {
      pause: {
        type: 'boolean',
        description:
          'every tick does nothing (exit 0, "paused") until --resume; a tick already switching finishes; status shows it',
      },
      resume: { type: 'boolean', description: 'the next tick decides as check does again' },
      reason: { type: 'string', value: 'TEXT', description: 'with --pause: why, for status and the skipped ticks' },
      install: {
        type: 'boolean',
        description: 'write the .timer and .service, daemon-reload, enable and start the timer',
      },
      remove: { type: 'boolean', description: 'disable the timer and delete both units' },
      every: {
        type: 'string',
        value: 'SPEC',
        description: 'calendar (OnCalendar=, Persistent=true) or span (OnUnitActiveSec=) (default hourly)',
      },
      'randomized-delay': {
        type: 'string',
        value: 'SPAN',
        description: 'RandomizedDelaySec= (default 1h, at most a span --every)',
      },
    },
    examples: [
      'release-switcher timer',
      'release-switcher timer --install',
      'release-switcher timer --install --every 15min --randomized-delay 5min',
      'release-switcher timer --remove',
      'release-switcher timer --pause --reason "change freeze until Monday"',
      'release-switcher timer --resume',
    ],
    load: () => import('./commands/timer.js'), // lazy: start-up: only the command run is loaded
  },
);

COMMANDS.push({
  name: 'openclaw-plugin',
  summary: 'write the OpenClaw plugin (openclaw releases …) as a folder to install, and print its path',
  args: '[DIR]',
  options: {},
  examples: [
    'openclaw plugins install "$(release-switcher openclaw-plugin)" --force --accept-capabilities',
    'release-switcher openclaw-plugin /tmp/rs-openclaw-plugin',
  ],
  load: () => import('./commands/openclaw-plugin.js'), // lazy: start-up: only the command run is loaded
});

/** About the CLI itself: they read no root, and these definitions (so run.ts loads them, not a `load` here). */
COMMANDS.push(
  {
    name: 'help',
    summary: 'the help of a command (as COMMAND --help), or the list of commands',
    args: '[COMMAND]',
    operand: 'command',
    options: {},
    examples: ['release-switcher help', 'release-switcher help update'],
  },
  {
    name: 'completion',
    summary: 'print the shell completion script for bash, zsh or fish',
    args: 'SHELL',
    operand: SHELLS,
    options: {},
    examples: [
      'release-switcher completion bash > ~/.local/share/bash-completion/completions/release-switcher',
      'release-switcher completion zsh > "${fpath[1]}/_release-switcher"',
      'release-switcher completion fish > ~/.config/fish/completions/release-switcher.fish',
    ],
  },
);

export function findCommand(name: string): CommandDef | undefined {
  return COMMANDS.find((command) => command.name === name);
}
