/**
 * `/releases [status | update [VERSION] | rollback [VERSION]]` in any conversation: what runs, and an update or
 * rollback asked for from chat (seed 003: the agent's user asks the gateway to update itself). The command answers
 * at once with the scheduled transaction; the runner outside the gateway restarts it, and the plugin's service in
 * the new process reports the outcome in the same conversation (report.ts).
 */
import { describeStatus, describeTransaction } from './describe.js';
import type { CommandContext, CommandDefinition, CommandResult } from './host.js';
import type { PendingReports } from './report.js';
import { RPC_SCOPE, errorShape, type operations, versionParam } from './rpc.js';

const USAGE = 'Usage: /releases [status | update [VERSION] | rollback [VERSION]]';
const UPDATE_USAGE = 'Usage: /update [VERSION] (release-switcher; also /releases status | rollback [VERSION])';

/** What the chat commands act with: the plugin's operations, and the reports promised for after the restart. */
export interface ChatActions {
  ops: ReturnType<typeof operations>;
  reports: PendingReports;
}

export function releasesCommand(actions: ChatActions): CommandDefinition {
  return ownerCommand('releases', 'What the gateway runs; update or roll it back (release-switcher)', (ctx) =>
    handle(ctx, actions, USAGE),
  );
}

/**
 * `/update [VERSION]`: OpenClaw's own chat command asks core's `update.run`, which an external supervisor's gateway
 * refuses ("external-supervisor-update-required"); this one, matched before core's (plugin commands come first in
 * 2026.9.5 and 2026.9.6, and `update` is not a reserved name there), asks release-switcher instead, as
 * `/releases update [VERSION]` does: owner-scoped, scheduled, reported in the conversation after the restart.
 */
export function updateCommand(actions: ChatActions): CommandDefinition {
  return ownerCommand(
    'update',
    'Update the gateway (release-switcher runs it; OpenClaw self-update is off under its supervisor)',
    (ctx) => handle({ ...ctx, args: `update ${ctx.args ?? ''}` }, actions, UPDATE_USAGE),
  );
}

/** A command with words after it, for an authenticated sender with the plugin's RPC scope (operator.admin). */
function ownerCommand(name: string, description: string, handler: CommandDefinition['handler']): CommandDefinition {
  return { name, description, acceptsArgs: true, requireAuth: true, requiredScopes: [RPC_SCOPE], handler };
}

async function handle(ctx: CommandContext, actions: ChatActions, usage: string): Promise<CommandResult> {
  const { ops } = actions;
  const [verb = 'status', version, extra] = (ctx.args ?? '').trim().split(/\s+/).filter(Boolean);
  try {
    if (extra !== undefined || !['status', 'update', 'rollback'].includes(verb)) return { text: usage };
    if (verb === 'status') return { text: describeStatus(await ops.status()) };
    return { text: await scheduleFromChat(actions, verb as 'update' | 'rollback', versionParam({ version }), ctx) };
  } catch (error) {
    return { text: refusedText(verb, error) };
  }
}

/**
 * Ask for an update or rollback from a conversation (a chat command, the agent's own update call): the answer says
 * what happened at once, and the outcome is promised for the same conversation after the restart (report.ts).
 */
export async function scheduleFromChat(
  actions: ChatActions,
  verb: 'update' | 'rollback',
  version: string | undefined,
  where: Pick<CommandContext, 'agentId' | 'sessionKey' | 'sessionId'>,
): Promise<string> {
  const { ops, reports } = actions;
  const tx = verb === 'update' ? await ops.update(version) : await ops.rollback(version);
  if (tx.status !== 'scheduled') return `${describeTransaction(tx)}.`;
  const promised = await reports.add({
    txId: tx.id,
    agentId: where.agentId,
    sessionKey: where.sessionKey,
    sessionId: where.sessionId,
  });
  return (
    `${tx.kind === 'update' ? 'Update' : 'Rollback'} to ${tx.to} scheduled (transaction ${tx.id}). ` +
    `The gateway restarts in a moment; ` +
    (promised ? 'the outcome will be reported here.' : 'ask /releases status for the outcome.')
  );
}

/** A refusal as a conversation reads it: the code, the message and the hint. */
export function refusedText(verb: string, error: unknown): string {
  const shape = errorShape(error);
  const hint = (shape.details as { hint?: string } | undefined)?.hint;
  return `${verb} refused: ${shape.code}: ${shape.message}${hint ? `\n${hint}` : ''}`;
}
