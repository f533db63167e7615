/**
 * The gateway RPC methods `releases.list`, `releases.status`, `releases.update`, `releases.rollback`. Their payload
 * is what `release-switcher --json` puts in the envelope's `result`. An update or rollback asked here runs inside
 * the gateway it is about to restart, so it is journaled and handed to a runner outside the unit's cgroup (a
 * transient systemd-run unit): the call answers `scheduled` at once and `releases.status` reports the outcome
 * from the new process.
 */
import { isReleaseSwitcherError, list, requestUpdate, rollback, updateStatus } from 'release-switcher';
import type { PluginApi, Respond } from './host.js';
import { Refusal, assertServedFrom } from './root.js';

/** OpenClaw's own `update.run` and `update.status` resolve to `operator.admin`; so do these. */
export const RPC_SCOPE = 'operator.admin';

export const RPC_METHODS = ['releases.list', 'releases.status', 'releases.update', 'releases.rollback'] as const;

/** `{ "version"?: string }`: a version, not an npm spec (the package is the root's). */
export function versionParam(params: Record<string, unknown>): string | undefined {
  const version = params.version;
  if (version === undefined || version === null) return undefined;
  if (typeof version !== 'string' || !/^[0-9A-Za-z][0-9A-Za-z.+-]*$/.test(version))
    throw new Refusal('USAGE', `"version" must be a version such as 2026.9.6, not ${JSON.stringify(version)}.`, '');
  return version;
}

/** An error as the RPC answers it: release-switcher's code, message and hint (and the transaction, if any). */
export function errorShape(error: unknown): { code: string; message: string; details?: unknown } {
  if (error instanceof Refusal)
    return { code: error.code, message: error.message, ...(error.hint ? { details: { hint: error.hint } } : {}) };
  if (isReleaseSwitcherError(error)) {
    const details = {
      ...(error.hint ? { hint: error.hint } : {}),
      ...(error.result !== undefined ? { result: error.result } : {}),
    };
    return { code: error.code, message: error.message, ...(Object.keys(details).length ? { details } : {}) };
  }
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

async function answer(respond: Respond, work: () => Promise<unknown>): Promise<void> {
  try {
    respond(true, await work());
  } catch (error) {
    respond(false, undefined, errorShape(error));
  }
}

export interface Actions {
  /** The root, read at each call (the plugin's config may be reloaded). */
  root: () => string;
  env: NodeJS.ProcessEnv;
  argv: readonly string[];
  /** release-switcher's CLI in the plugin's installed folder, for the runner (see installedCli). */
  cliPath?: string | undefined;
}

/** Who asks, recorded on each transaction as its `origin.by`: the gateway RPC, a chat command, or the agent's own call. */
export type AskedBy = 'openclaw-rpc' | 'openclaw-chat' | 'openclaw-agent';

/** The four operations, shared by the RPC methods and the chat command; `by`: who asks through them. */
export function operations(actions: Actions, by: AskedBy = 'openclaw-rpc') {
  const { root, env, argv } = actions;
  const runner = { ...(actions.cliPath ? { cliPath: actions.cliPath } : {}), origin: { by } };
  return {
    list: () => list({ root: root(), env }),
    status: () => updateStatus({ root: root(), env }),
    /** `acceptCapabilities`: the target's finalize accepts plugins' reviewed capability changes (the owner asked). */
    update: async (version: string | undefined, acceptCapabilities = false) => {
      const config = await assertServedFrom(root(), { argv, env });
      return requestUpdate({
        root: root(),
        env,
        ...runner,
        ...(version ? { spec: `${config.package}@${version}` } : {}),
        ...(acceptCapabilities && { acceptCapabilities }),
      });
    },
    rollback: async (version: string | undefined) => {
      await assertServedFrom(root(), { argv, env });
      return rollback({ root: root(), env, handoff: 'always', ...runner, ...(version ? { version } : {}) });
    },
  };
}

export function registerRpc(api: PluginApi, actions: Actions): void {
  const ops = operations(actions);
  const methods: Record<(typeof RPC_METHODS)[number], (params: Record<string, unknown>) => Promise<unknown>> = {
    'releases.list': () => ops.list(),
    'releases.status': () => ops.status(),
    'releases.update': (params) => ops.update(versionParam(params), params.acceptCapabilities === true),
    'releases.rollback': (params) => ops.rollback(versionParam(params)),
  };
  for (const [name, run] of Object.entries(methods)) {
    api.registerGatewayMethod(name, ({ params, respond }) => answer(respond, () => run(params ?? {})), {
      scope: RPC_SCOPE,
    });
  }
}
