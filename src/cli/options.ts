import path from 'node:path';
/**
 * Option readers shared by several commands. Kept apart from any one command's module so that a
 * command imports only what it runs: `switch` and `rollback` read --handoff without loading
 * `update` (and with it the registry client); `install` and `update` read --verify-signatures without
 * loading `init` (and with it adoption, unit files and the snapshot coverage).
 */
import { ReleaseSwitcherError } from '../model/errors.js';
import { SIGNATURE_POLICIES, type SignaturePolicy } from '../store/config.js';
import type { CallerOptions } from '../transaction/options.js';
import type { HandoffOptions } from '../transaction/schedule.js';
import type { CommandContext } from './context.js';

export function handoffOf(ctx: CommandContext): HandoffOptions['handoff'] {
  const value = ctx.values.handoff ?? 'auto';
  if (value !== 'auto' && value !== 'always' && value !== 'never') {
    throw new ReleaseSwitcherError('USAGE', `--handoff takes auto, always or never, not "${String(value)}".`, {
      hint: 'For example --handoff never',
    });
  }
  return value;
}

/** `--verify-signatures auto|always|never` (init, install, update). */
export function signaturePolicy(value: unknown): SignaturePolicy | undefined {
  if (value === undefined) return undefined;
  if (!(SIGNATURE_POLICIES as readonly unknown[]).includes(value)) {
    throw new ReleaseSwitcherError(
      'USAGE',
      `--verify-signatures takes ${SIGNATURE_POLICIES.join(', ')}, not "${String(value)}".`,
      { hint: 'For example --verify-signatures always' },
    );
  }
  return value as SignaturePolicy;
}

/** `--checkpoint ID`, as the verbs take it (absent when not given). */
export function checkpointOf(ctx: CommandContext): { checkpoint?: string } {
  const value = ctx.values.checkpoint;
  if (value === undefined) return {};
  if (typeof value !== 'string' || !/^\w[\w.-]*$/.test(value)) {
    throw new ReleaseSwitcherError('USAGE', `--checkpoint takes a checkpoint's id, not "${String(value)}".`, {
      hint: 'release-switcher checkpoints lists them.',
    });
  }
  return { checkpoint: value };
}

/** `--node PATH` (update, switch, rollback): the Node to run the target on, as an absolute path. */
export function runOnNodeOf(ctx: CommandContext): { node?: string } {
  const value = ctx.values.node;
  if (value === undefined) return {};
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ReleaseSwitcherError('USAGE', '--node takes the path of a node binary.', {
      hint: 'For example --node /opt/node-v26/bin/node',
    });
  }
  return { node: path.resolve(ctx.runtime.cwd ?? process.cwd(), value) };
}

/**
 * The transaction's options as the command's flags give them (update, switch, rollback; a flag a command lacks is
 * absent, its default): `--no-preflight`, `--accept-capabilities`, `--checkpoint`, `--node`.
 */
export function transactionFlagsOf(ctx: CommandContext): CallerOptions {
  return {
    preflight: ctx.values['no-preflight'] !== true,
    acceptCapabilities: ctx.values['accept-capabilities'] === true,
    ...checkpointOf(ctx),
    ...runOnNodeOf(ctx),
  };
}
