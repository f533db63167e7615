/** The settings `init` takes (config.json's fields as flags), apart from the other commands' short lists. */
import { CHANNELS, READINESS_POLICIES, SIGNATURE_POLICIES, SUPERVISORS } from '../store/config.js';
import type { OptionDef } from './definition-types.js';

export const INIT_OPTIONS: Record<string, OptionDef> = {
  package: { type: 'string', value: 'NAME', description: 'the npm package this root manages' },
  registry: { type: 'string', value: 'URL', description: 'registry URL (default: npm config)' },
  supervisor: {
    type: 'string',
    value: 'NAME',
    description: 'systemd | systemd-system | launchd | pm2 | none',
    choices: SUPERVISORS,
  },
  unit: { type: 'string', value: 'NAME', description: 'systemd unit, launchd label or pm2 app' },
  'health-url': { type: 'string', value: 'URL', description: 'health endpoint of the service' },
  'version-field': {
    type: 'string',
    value: 'PATH',
    description: 'dot path of the version in the health JSON (default version)',
  },
  'verify-timeout': {
    type: 'string',
    value: 'SECONDS',
    description: 'how long a new release has to become healthy (default 60)',
  },
  'stable-for': {
    type: 'string',
    value: 'SECONDS',
    description: 'how long it must then stay healthy (default 10)',
  },
  keep: { type: 'string', value: 'N', description: 'releases prune keeps (default 3)' },
  node: { type: 'string', value: 'PATH', description: 'the Node that runs the service and its lifecycle scripts' },
  npm: {
    type: 'string',
    value: 'PATH',
    description: 'npm (npm-cli.js or executable) used to install dependencies',
  },
  smoke: {
    type: 'string',
    value: 'ARGS',
    description: 'smoke check run with node in a staged release, e.g. "server.js --version"',
  },
  'state-path': {
    type: 'string',
    multiple: true,
    value: 'PATH',
    description: 'service state to snapshot before a new release first starts (repeatable)',
  },
  'independent-path': {
    type: 'string',
    multiple: true,
    value: 'PATH',
    description:
      'a folder under the state paths that checkpoints neither copy nor restore, e.g. a workspace (repeatable)',
  },
  preflight: {
    type: 'string',
    value: 'ARGS',
    description:
      'rehearse a candidate before the flip as <node> ARGS ({port}, {state}, {config} filled in; {token} only through --preflight-env or --preflight-config), e.g. "server.js --port {port}"',
  },
  'preflight-env': {
    type: 'string',
    multiple: true,
    value: 'NAME=VALUE',
    description: 'environment of the rehearsal (placeholders filled in; repeatable)',
  },
  readiness: {
    type: 'string',
    value: 'POLICY',
    description:
      'a channel ready before an activation and not after (openclaw: /readyz): warn (a warning) | require (a failed verification)',
    choices: READINESS_POLICIES,
  },
  'preflight-prepare': {
    type: 'string',
    value: 'ARGS',
    description:
      'run as <node> ARGS in the candidate after the private copy is made, before it starts (placeholders filled in)',
  },
  'preflight-config': {
    type: 'string',
    value: 'JSON',
    description:
      'a JSON object written for each rehearsal to its private file {config} (placeholders filled in its strings)',
  },
  'preflight-for': {
    type: 'string',
    value: 'SECONDS',
    description: 'how long the rehearsal must stay healthy (default 5)',
  },
  'schema-field': {
    type: 'string',
    value: 'PATH',
    description: "dot path into a release's package.json naming its state schema",
  },
  channel: {
    type: 'string',
    value: 'NAME',
    description:
      "what update without a version follows: stable | beta | extended-stable | auto (the service's own setting)",
    choices: [...CHANNELS, 'auto'],
  },
  preset: {
    type: 'string',
    value: 'NAME',
    description: 'settings for a known service (openclaw, node-http)',
    choices: ['openclaw', 'node-http'],
  },
  adopt: {
    type: 'string',
    value: 'PATH',
    description: 'take an existing npm install -g folder as the first release (copied; the original is left alone)',
  },
  'link-bin': {
    type: 'boolean',
    description: "npm -g's links of the adopted package's commands run <root>/bin/NAME (the current release)",
  },
  'unlink-bin': { type: 'boolean', description: 'point those links back where they pointed before --link-bin' },
  'cooldown-hours': {
    type: 'string',
    value: 'N',
    description: 'auto-update takes a version only N hours after it was published (default 0)',
  },
  'rollout-percent': {
    type: 'string',
    value: 'P',
    description: 'auto-update: share of hosts that take a new version, by host id (default 100)',
  },
  'service-user': {
    type: 'string',
    value: 'ACCOUNT',
    description:
      "the account the service runs as, when not the root owner (default: a system unit's User=; releases are readable by it)",
  },
  'host-id': {
    type: 'string',
    value: 'ID',
    description: 'this host for rollout and jitter (default /etc/machine-id, else the hostname)',
  },
  'verify-signatures': {
    type: 'string',
    value: 'WHEN',
    description: 'auto | always | never: registry signatures (default auto: verify where the registry publishes keys)',
    choices: SIGNATURE_POLICIES,
  },
};
