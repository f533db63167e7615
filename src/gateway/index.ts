/**
 * The API a service's own RPC handlers call, e.g. the OpenClaw gateway's `update.run` and
 * `update.status`. `requestUpdate` returns within about a second: the work that restarts the
 * service must run outside it, so it is journaled and handed to a runner (see schedule.ts); only
 * an immediate failure (nothing changed) or `up_to_date` comes back without a runner.
 */
import { installLocked } from '../stage/install.js';
import { type StatusResult, status } from '../verbs/status.js';
import type { Transaction } from '../model/state.js';
import { readLinkVersion } from '../store/links.js';
import { transact } from '../transaction/schedule.js';
import type { RootOptions } from '../store/session.js';
import { resolvePackage } from '../registry/fetch.js';
import { channelUpdateSpec } from '../transaction/channel.js';
import { type CallerOptions, callerOptions } from '../transaction/options.js';

/** `preflight` and `acceptCapabilities`: the transaction's options (transaction/options.ts), here or in the runner. */
export interface RequestUpdateOptions extends RootOptions, Pick<CallerOptions, 'preflight' | 'acceptCapabilities'> {
  /** What to update to. @default the channel's version (config.json's channel, else the service's own setting, else stable) */
  spec?: string;
  /**
   * Where the release is staged. `runner`: by the runner outside the service, so this call returns
   * at once (follow the staging with `updateStatus().transaction.progress`). `caller`: here, before
   * the hand-off, reporting to `onProgress` and honouring `signal`; the call returns when staging is
   * done. @default "runner"
   */
  stageIn?: 'runner' | 'caller';
}

/**
 * Ask for an update. Resolves with the transaction: `scheduled` (a runner outside the service
 * carries it out; poll `updateStatus`), `up_to_date`, or, where there is no supervisor to restart,
 * the finished `switched` one. Rejects with a ReleaseSwitcherError when nothing could be started
 * (unknown version, registry down, busy…): nothing changed then.
 */
export async function requestUpdate(options: RequestUpdateOptions): Promise<Transaction> {
  let followed: Transaction['channel'];
  return transact(options, {
    kind: 'update',
    command: 'update.run',
    handoff: 'always',
    options: callerOptions(options, ['preflight', 'acceptCapabilities']),
    channel: () => followed,
    target: async (session) => {
      let spec = options.spec;
      if (spec === undefined) {
        const chosen = await channelUpdateSpec(session);
        spec = chosen.spec;
        followed = chosen.choice;
      }
      if (options.stageIn === 'caller') return (await installLocked(session, spec)).version;
      // Without a supervisor the release is installed here: resolve it as staging needs it, once.
      const installsHere = session.config.supervisor === 'none';
      const pkg = await resolvePackage(spec, {
        config: session.config,
        runtime: session.runtime,
        where: session.runtime.cwd,
        forStaging: installsHere,
      });
      const current = await readLinkVersion(session.layout, 'current');
      if (session.journal.state.releases[pkg.version] || current === pkg.version || installsHere) {
        if (!session.journal.state.releases[pkg.version]) await installLocked(session, spec, pkg);
        return pkg.version;
      }
      // Not installed yet: the runner stages it first.
      return { version: pkg.version, spec: pkg.resolved.startsWith('http') ? `${pkg.name}@${pkg.version}` : pkg.spec };
    },
  });
}

export interface UpdateStatus extends StatusResult {
  /** True while a transaction is in flight (scheduled, staging, switching, restarting, verifying, rolling back). */
  inFlight: boolean;
}

/**
 * What `update.status` reports: the versions, and the in-flight or last transaction with its steps,
 * durations, reason, probe evidence and (while a runner stages) progress. Reads only; never blocks.
 */
export async function updateStatus(options: RootOptions): Promise<UpdateStatus> {
  const result = await status(options);
  return { ...result, inFlight: result.transaction !== null && result.transaction.finishedAt === null };
}
