import { resolve } from 'node:path';
import { adopt, linkBin, readInstalledPackage, serviceNodeFor } from '../../verbs/adopt.js';
import { init } from '../../verbs/init.js';
import { formatCoverage } from '../../snapshot/coverage.js';
import type { Channel, ReadinessPolicy, Settings, SupervisorName } from '../../store/config.js';
import { ReleaseSwitcherError } from '../../model/errors.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { parseSeconds } from '../environment.js';
import { signaturePolicy } from '../options.js';

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

function count(value: unknown, flag: string, whole = true): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (whole && !Number.isInteger(n))) {
    throw new ReleaseSwitcherError(
      'USAGE',
      `--${flag} takes a ${whole ? 'whole ' : ''}number ≥ 0, not "${String(value)}".`,
      { hint: `For example --${flag} 3` },
    );
  }
  return n;
}

function preflightEnv(value: unknown): Record<string, string> | undefined {
  if (!Array.isArray(value)) return undefined;
  return Object.fromEntries(
    value.map((pair: string) => {
      const eq = pair.indexOf('=');
      if (eq <= 0)
        throw new ReleaseSwitcherError('USAGE', `--preflight-env takes NAME=VALUE, not "${pair}".`, {
          hint: 'For example --preflight-env PORT={port}',
        });
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    }),
  );
}

function jsonObject(value: unknown, flag: string): Record<string, unknown> | undefined {
  if (typeof value !== 'string') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ReleaseSwitcherError('USAGE', `--${flag} takes a JSON object, not "${value}".`, {
      hint: `For example --${flag} '{"port":"{port}","token":"{token}"}'`,
    });
  }
  return parsed as Record<string, unknown>;
}

/**
 * ARGS of a process the rehearsal starts: words, with no `{token}` among them. A command line is read by every user of
 * the host (/proc/<pid>/cmdline), so the rehearsal's token goes through the environment or the private `{config}`.
 */
function argsWithoutToken(value: string | undefined, flag: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (value.includes('{token}'))
    throw new ReleaseSwitcherError(
      'USAGE',
      `--${flag} puts {token} on a command line, which every user of this host can read.`,
      {
        hint: 'Pass it through the environment (--preflight-env TOKEN={token}) or the private config file (--preflight-config).',
      },
    );
  return value.split(/\s+/).filter(Boolean);
}

export function settingsFromFlags(values: CommandContext['values']): Settings {
  const smoke = str(values.smoke);
  return {
    package: str(values.package),
    registry: str(values.registry),
    supervisor: str(values.supervisor) as SupervisorName | undefined,
    unit: str(values.unit),
    healthUrl: str(values['health-url']),
    versionField: str(values['version-field']),
    verifyTimeout: parseSeconds(str(values['verify-timeout']), 'verify-timeout'),
    stableFor: parseSeconds(str(values['stable-for']), 'stable-for'),
    keep: count(values.keep, 'keep'),
    node: str(values.node),
    npm: str(values.npm),
    smoke: smoke === undefined ? undefined : smoke.split(/\s+/).filter(Boolean),
    statePaths: Array.isArray(values['state-path']) ? values['state-path'] : undefined,
    independentPaths: Array.isArray(values['independent-path']) ? values['independent-path'] : undefined,
    schemaField: str(values['schema-field']),
    // `auto`: no channel of our own, the service's setting (null in config.json).
    channel: values.channel === 'auto' ? null : (str(values.channel) as Channel | undefined),
    preset: str(values.preset),
    cooldownHours: count(values['cooldown-hours'], 'cooldown-hours', false),
    rolloutPercent: count(values['rollout-percent'], 'rollout-percent', false),
    hostId: str(values['host-id']),
    serviceUser: str(values['service-user']),
    preflight: argsWithoutToken(str(values.preflight), 'preflight'),
    preflightEnv: preflightEnv(values['preflight-env']),
    preflightFor: parseSeconds(str(values['preflight-for']), 'preflight-for'),
    verifySignatures: signaturePolicy(values['verify-signatures']),
    preflightConfig: jsonObject(values['preflight-config'], 'preflight-config'),
    preflightPrepare: argsWithoutToken(str(values['preflight-prepare']), 'preflight-prepare'),
    readiness: str(values.readiness) as ReadinessPolicy | undefined,
  };
}

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const settings = settingsFromFlags(ctx.values);
  for (const key of ['node', 'npm'] as const) if (settings[key]) settings[key] = resolve(settings[key]);
  // Relative to where init runs; `~` and `${NAME}` stay as written, for the boot-check to expand in the service's environment.
  settings.statePaths = settings.statePaths?.map((p) => (/^[~$]/.test(p) ? p : resolve(p)));
  settings.independentPaths = settings.independentPaths?.map((p) => (/^[~$]/.test(p) ? p : resolve(p)));
  const adoptPath = str(ctx.values.adopt);
  const adopting = adoptPath ? await readInstalledPackage(adoptPath).catch(() => undefined) : undefined;
  // The package to manage is the adopted one's, unless said otherwise; adopt reports a bad folder.
  if (adopting && !settings.package) settings.package = adopting.name;
  const result = await init({
    root: ctx.root,
    settings,
    waitSeconds: ctx.runtime.waitSeconds,
    env: ctx.runtime.env,
    execPath: ctx.runtime.execPath,
    ...(adopting ? { preferredNode: serviceNodeFor(adopting, ctx.runtime.env ?? process.env) } : {}),
  });
  const link = ctx.values['link-bin'] === true ? true : ctx.values['unlink-bin'] === true ? false : undefined;
  if (link !== undefined && !adoptPath) {
    const links = await linkBin({ root: ctx.root, ...ctx.runtime, link });
    const human = links.map((l) => `${l.link} -> ${link ? l.ours : (l.original ?? 'unchanged')}`).join('\n');
    return { result: { ...result, links }, human };
  }
  const covers = result.checkpoint ? `\ncheckpoints of the state cover:\n${formatCoverage(result.checkpoint)}` : '';
  if (!adoptPath)
    return {
      result,
      human: `root ${result.root} manages ${result.config.package} (supervisor ${result.config.supervisor})${covers}`,
    };
  const adopted = await adopt({
    root: ctx.root,
    path: adoptPath,
    ...ctx.runtime,
    healthFromUnit: settings.healthUrl === undefined,
    linkBin: link === true,
  });
  // What adopt changed in config.json since init wrote it: the service's real port, the install kept out of the state.
  const config = {
    ...result.config,
    ...(adopted.found?.healthUrl ? { healthUrl: adopted.found.healthUrl } : {}),
    ...(adopted.keptOut ? { independentPaths: [...result.config.independentPaths, ...adopted.keptOut] } : {}),
  };
  return { result: { ...result, config, adopted }, human: adoptedText(result.root, adoptPath, adopted) };
}

function adoptedText(root: string, from: string, adopted: Awaited<ReturnType<typeof adopt>>): string {
  const lines = [`root ${root}: adopted ${adopted.version} from ${from} (current -> ${adopted.current})`];
  const restaged = adopted.restaged;
  if (restaged)
    lines.push(
      `note: ${restaged.why}; so the release was staged from ${restaged.from} and proven the same package (${restaged.proven} files compared)`,
    );
  const found = adopted.found;
  if (found) {
    lines.push(`found ${found.unit}: ${found.execStart?.join(' ') ?? '(no ExecStart)'}`);
    lines.push(
      `  port ${found.port ? `${found.port.port} (${found.port.from})` : 'not found'}; Node options ${found.nodeOptions.join(' ') || '(none)'}; TimeoutStopSec ${found.timeoutStopSeconds ?? 'default'}; RestartSec ${found.restartSeconds ?? 'default'}`,
    );
    for (const note of found.portNotes) lines.push(`  note: ${note}`);
    if (found.healthUrl) lines.push(`  health URL set to ${found.healthUrl}`);
  }
  // npm's own link is named for npm's layout (`<prefix>/lib/node_modules/<name>`), not for pnpm's or bun's.
  const npmLayout = /\/lib\/node_modules\/(@[^/]+\/)?[^/]+\/?$/.test(from);
  for (const c of adopted.commands) {
    if (npmLayout) {
      lines.push(
        `note: ${c.npmLink} (npm -g) still runs the adopted copy, not current. ${c.path} always runs current:`,
      );
      lines.push(`  export PATH="${root}/bin:$PATH"   (or replace npm's link: ln -sfn ${c.path} ${c.npmLink})`);
    }
    for (const other of c.runsAdopted.filter((r) => r.path !== c.npmLink))
      lines.push(
        `note: ${other.path} (${other.kind === 'script' ? 'a script that runs the adopted copy' : 'a link into the adopted copy'}) still runs it; release-switcher --root ${root} init --link-bin points it at ${c.path} (--unlink-bin puts it back)`,
      );
  }
  if (adopted.keptOut)
    lines.push(
      `note: the install lives inside the service's state; kept out of checkpoints and rehearsal copies (independent paths): ${adopted.keptOut.join(', ')}`,
    );
  lines.push(`next: ${adopted.next}`);
  return lines.join('\n');
}
