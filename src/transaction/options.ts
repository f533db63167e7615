/**
 * The options of a transaction, declared once: the fields of the journaled transaction (model/state.ts `Transaction`)
 * that say how it is to be carried out. They are read from a caller's flags in one place (`transactionOptions`),
 * journaled on the transaction as it opens (record.ts `openTransaction`, `setFields`), and read back from the journal by
 * whoever carries it on: a runner outside the service (schedule.ts `runScheduled`), recovery, the steps themselves. A
 * field a runner does not find there is an order lost (`--node` was, once), so nothing travels beside them.
 */
import type { Transaction } from '../model/state.js';

/** Every option, in the order a record shows them. Adding one: a field of `Transaction`, then its name here. */
export const OPTION_FIELDS = [
  'spec',
  'preflight',
  'acceptCapabilities',
  'checkpoint',
  'node',
  'channel',
  'origin',
] as const;
export type OptionField = (typeof OPTION_FIELDS)[number];

/** The options as the transaction records them (a default is absent: `preflight` only when false, and so on). */
export type TransactionOptions = Partial<Pick<Transaction, OptionField>>;

/** The options a caller states (the verbs' and the library's flags; the CLI's `--no-preflight` and the rest). */
export interface CallerOptions {
  /** false: no rehearsal before the flip (`--no-preflight`), here or in a runner. @default true */
  preflight?: boolean | undefined;
  /** true: the target's finalize accepts plugins' reviewed capability changes (`--accept-capabilities`). @default false */
  acceptCapabilities?: boolean | undefined;
  /**
   * A checkpoint holding the state the target left (`release-switcher checkpoints`), put back before it starts
   * (`--checkpoint`). @default the way back's own rule: the checkpoint taken when the current release came in from it
   */
  checkpoint?: string | undefined;
  /**
   * The Node to run the target on (`--node PATH`): the service moves to it with the flip, and back with every way back
   * (transaction/runtime.ts). @default the Node the target last ran on, else the service's
   */
  node?: string | undefined;
}
export type CallerField = keyof CallerOptions;
export const CALLER_FIELDS = ['preflight', 'acceptCapabilities', 'checkpoint', 'node'] as const satisfies CallerField[];

/** The options as the transaction's opener has them: the caller's, and what the call found (spec, channel, origin). */
export interface OptionFlags extends CallerOptions {
  spec?: string | undefined;
  channel?: Transaction['channel'] | undefined;
  origin?: Transaction['origin'] | undefined;
}

/** The options a verb takes from its caller, those it honours (`fields`), and nothing else of its options object. */
export function callerOptions(from: CallerOptions, fields: readonly CallerField[] = CALLER_FIELDS): CallerOptions {
  return Object.fromEntries(fields.filter((key) => from[key] !== undefined).map((key) => [key, from[key]]));
}

/** The journaled value of a caller's flags: defaults and empty values left out, as a record has always had them. */
export function transactionOptions(flags: OptionFlags): TransactionOptions {
  // A new value (not yet a record's): built field by field, then handed out read-only.
  const options: { -readonly [K in keyof TransactionOptions]: TransactionOptions[K] } = {};
  if (flags.spec) options.spec = flags.spec;
  if (flags.preflight === false) options.preflight = false;
  if (flags.acceptCapabilities === true) options.acceptCapabilities = true;
  if (flags.checkpoint) options.checkpoint = flags.checkpoint;
  if (flags.node) options.node = flags.node;
  if (flags.channel) options.channel = flags.channel;
  if (flags.origin) options.origin = flags.origin;
  return options;
}

/** The options a transaction carries (a runner's orders, recovery's): read from the record, never from elsewhere. */
export function optionsOf(tx: Transaction): TransactionOptions {
  return transactionOptions(tx);
}
