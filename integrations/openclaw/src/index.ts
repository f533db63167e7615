/**
 * The OpenClaw plugin entry (`package.json#openclaw.extensions`): registers `openclaw releases …`, the gateway
 * methods `releases.*`, the `/releases` and `/update` chat commands, the agent's own update (its `gateway` tool's
 * `update.run`, agent-update.ts), the Control UI's Releases tab, and the service
 * that reports a chat-asked outcome after the restart. The one place that reads the process (argv, environment) and the plugin's config.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { registerAgentUpdate } from './agent-update.js';
import { releasesCommand, updateCommand } from './chat.js';
import { registerReleasesTab } from './control-ui.js';
import { PROGRAM, SUBCOMMANDS, argvAfter, runReleases } from './cli.js';
import type { CliCommand, PluginApi } from './host.js';
import { type Deliver, PendingReports, deliverPending } from './report.js';
import { type Actions, operations, registerRpc } from './rpc.js';
import { rootOf } from './root.js';

export const PLUGIN_ID = 'release-switcher';

/**
 * release-switcher's CLI in the folder OpenClaw installed the plugin into. OpenClaw runs a plugin's modules from a
 * temporary capture of them (`openclaw-plugin-build-*` under the temp dir) that it removes when the process exits,
 * so `import.meta.url` names files gone by the time a runner outside the gateway, started just before the gateway
 * restarts, imports its next module. The installed folder stays.
 */
export function installedCli(rootDir: string | undefined): string | undefined {
  if (!rootDir) return undefined;
  const cli = path.join(rootDir, 'node_modules', 'release-switcher', 'dist', 'cli', 'main.js');
  return existsSync(cli) ? cli : undefined;
}

function registerCli(api: PluginApi, actions: Actions): void {
  api.registerCli(
    ({ program }) => {
      (program.command('releases') as CliCommand)
        .description(`release-switcher inside OpenClaw: ${SUBCOMMANDS.join(', ')} (${PROGRAM} --help)`)
        .helpOption(false)
        .allowUnknownOption(true)
        .allowExcessArguments(true)
        .argument('[args...]')
        .action(async () => {
          const code = await runReleases(argvAfter(process.argv), {
            root: actions.root(),
            openclawEntry: process.argv[1] ?? '',
            io: { stdout: process.stdout, stderr: process.stderr, env: actions.env },
            cliPath: actions.cliPath,
          });
          // The contract's exit codes are the command's result: 0 also for scheduled, 3 rolled_back, 5 busy…
          process.exitCode = code;
        });
    },
    {
      descriptors: [
        {
          name: 'releases',
          description: 'The gateway releases (release-switcher): list, status, update, switch, rollback, doctor',
          hasSubcommands: true,
          machineOutput: ({ argv }) => argv.includes('--json'),
        },
      ],
    },
  );
}

/** Appends through OpenClaw's session transcript runtime, loaded from the host only when there is a report. */
function transcriptDelivery(config: unknown): Deliver {
  return async (report, text) => {
    const runtime = (await import('openclaw/plugin-sdk/session-transcript-runtime' as string)) as {
      appendAssistantMirrorMessageByIdentity(
        params: Record<string, unknown>,
      ): Promise<{ ok: boolean; reason?: string }>;
    };
    const result = await runtime.appendAssistantMirrorMessageByIdentity({
      ...(report.agentId ? { agentId: report.agentId } : {}),
      sessionKey: report.sessionKey,
      ...(report.sessionId ? { sessionId: report.sessionId } : {}),
      text,
      idempotencyKey: `release-switcher-${report.txId}`,
      config,
    });
    if (!result.ok) throw new Error(result.reason ?? 'not appended');
  };
}

export default {
  id: PLUGIN_ID,
  name: 'release-switcher',
  description: 'Sealed side-by-side releases of the gateway: list, status, update, switch, rollback, doctor',
  register(api: PluginApi): void {
    const actions: Actions = {
      root: () => rootOf(api.pluginConfig, process.env, process.argv[1]),
      env: process.env,
      argv: process.argv,
      cliPath: installedCli(api.rootDir),
    };
    if (!actions.cliPath)
      api.logger.warn(`release-switcher: no release-switcher under ${api.rootDir}: a runner uses this process's copy`);
    const ops = operations(actions, 'openclaw-chat');
    const reports = new PendingReports();
    // Bound here too, not only when the reports service starts: on the real gateway the agent's tool hook ran where
    // the service's binding had not reached (its report was not promised), and a report promised there must land
    // where the service of the next process reads.
    const stateDir = api.runtime?.state?.resolveStateDir?.(process.env);
    if (stateDir) reports.bind(stateDir);
    registerCli(api, actions);
    registerRpc(api, actions);
    api.registerCommand(releasesCommand({ ops, reports }));
    api.registerCommand(updateCommand({ ops, reports }));
    registerReleasesTab(api, ops.status, api.logger);
    registerAgentUpdate(api, { ops: operations(actions, 'openclaw-agent'), reports }, api.logger);
    const stop = new AbortController();
    api.registerService({
      id: 'release-switcher-reports',
      start: (ctx) => {
        reports.bind(ctx.stateDir);
        // Not awaited: the gateway's start-up does not wait for the runner's verification of this very process.
        void deliverPending({
          reports,
          status: ops.status,
          deliver: transcriptDelivery(ctx.config),
          logger: ctx.logger,
          signal: stop.signal,
        }).catch((error: unknown) => ctx.logger.warn(`release-switcher: reports: ${String(error)}`));
      },
      stop: () => stop.abort(),
    });
  },
};
