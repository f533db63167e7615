import type { Transaction } from '../model/state.js';
import { refuseSpecCredentials } from '../platform/npm-credentials.js';
import { type HandoffOptions, transact } from '../transaction/schedule.js';
import { type RootOptions, openSession, withSignaturePolicy } from '../store/session.js';
import type { SignaturePolicy } from '../store/config.js';
import { readState } from '../store/journal.js';
import { type SwitchPlan, planSwitch } from '../transaction/plan.js';
import { installLocked } from '../stage/install.js';
import { callerOptions } from '../transaction/options.js';

export interface UpdateOptions extends RootOptions, HandoffOptions {
  /** What to update to. @default the channel's version (transaction/channel.ts) */
  spec?: string;
  /** The channel to follow for this update when there is no spec (`--channel`). @default config.json's, else the service's, else stable */
  channel?: string;
  /** Registry signatures for this call's install: auto, always, never. @default config.json's verifySignatures ("auto") */
  verifySignatures?: SignaturePolicy;
  /** The channel `spec` was chosen from, when a caller chose it (the auto-updater): recorded on the transaction. @default the channel followed when there is no spec, else none */
  followed?: Transaction['channel'];
}

/** Install the release if needed, then switch to it (up_to_date when it already runs). */
export async function update(options: UpdateOptions): Promise<Transaction> {
  if (options.spec !== undefined) refuseSpecCredentials(options.spec); // before the transaction records the command
  let followed = options.followed;
  return transact(options, {
    kind: 'update',
    command: `update ${options.spec ?? ''}`.trim(),
    target: async (session) => {
      let spec = options.spec;
      if (spec === undefined) {
        // lazy: only an update that names no version reads the channel (and the registry's dist-tags)
        const chosen = await (await import('../transaction/channel.js')).channelUpdateSpec(session, options.channel);
        spec = chosen.spec;
        followed = chosen.choice;
      }
      const staging = withSignaturePolicy(session, options.verifySignatures);
      return (await installLocked(staging, spec, undefined, { node: options.node })).version;
    },
    channel: () => followed,
    handoff: options.handoff,
    // An update puts back no checkpoint of the caller's: the way back's own rule decides.
    options: callerOptions(options, ['preflight', 'acceptCapabilities', 'node']),
  });
}

export interface UpdatePlanOptions extends RootOptions {
  /** The version the update's spec resolves to (the install plan tells). */
  version: string;
  /** `--node PATH`: the Node to run it on. @default the one it last ran on, else the service's */
  node?: string;
}

/** What `update` would do after resolving: the switch plan, `install` first when the release is not installed yet. Reads only. */
export async function planUpdate(options: UpdatePlanOptions): Promise<SwitchPlan> {
  const session = await openSession(options);
  return planSwitch(
    { ...session, state: await readState(session.layout.root) },
    { kind: 'update', target: options.version, install: true, ...(options.node && { node: options.node }) },
  );
}
