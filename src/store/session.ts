/**
 * Opening a root for one library call: its layout, config and runtime. Kept light (no lock, no
 * recovery, no supervisors) so read-only commands like `list` start fast; mutations go through
 * transaction/mutate.ts.
 */
import { type Config, type SignaturePolicy, readConfig } from './config.js';
import type { RootPurpose } from './root-trust.js';
import type { Journal } from './journal.js';
import { type Layout, layoutOf } from './layout.js';
import { type ResolvedRuntime, type Runtime, resolveRuntime } from '../model/runtime.js';

/** Options every library call takes. */
export interface RootOptions extends Runtime {
  /** The release root. */
  root: string;
}

export interface Session {
  layout: Layout;
  config: Config;
  runtime: ResolvedRuntime;
}

/** A session holding the lock and the journal. */
export interface JournalSession extends Session {
  journal: Journal;
}

/** The root's session; `mutate` for a command that changes it (its owner only: store/root-trust.ts). */
export async function openSession(options: RootOptions, purpose: RootPurpose = 'read'): Promise<Session> {
  const layout = layoutOf(options.root);
  return { layout, config: await readConfig(layout.root, purpose), runtime: resolveRuntime(options) };
}

/** The session with one call's registry-signature policy (`install`/`update --verify-signatures`), when it gives one. */
export function withSignaturePolicy<S extends Session>(session: S, policy: SignaturePolicy | undefined): S {
  return policy ? { ...session, config: { ...session.config, verifySignatures: policy } } : session;
}
