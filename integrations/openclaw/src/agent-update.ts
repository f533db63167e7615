/**
 * The agent's own update: OpenClaw's `gateway` tool with `action: "update.run"` (an owner asking the agent "update
 * yourself") calls core's `update.run`, which a gateway under an external supervisor refuses
 * ("external-supervisor-update-required"). A `before_tool_call` handler on that tool asks release-switcher instead, as
 * `/update` does, and blocks core's call with what happened, which the agent reads as the tool's answer; the outcome
 * is reported in the same conversation after the restart.
 *
 * Only for a requester the host proves is the owner (`ctx.requester.senderIsOwner === true`, docs/plugins/hooks/
 * tool-policy.md: "Missing fields are unproven, not false"). Anything else is no decision: core answers it as before
 * (`owner_required` for a non-owner; an operator-scheduled automation, which carries no requester, is refused by core
 * under the external supervisor with its own text).
 */
import { type ChatActions, refusedText, scheduleFromChat } from './chat.js';
import type { Logger, PluginApi, ToolCallContext, ToolCallDecision, ToolCallEvent } from './host.js';

/** The core tool and action it stands in for (2026.9.5 and 2026.9.6: dist/openclaw-tools-*.mjs createGatewayTool). */
export const GATEWAY_TOOL = 'gateway';
const UPDATE_ACTION = 'update.run';
/**
 * Scheduling resolves the version on the registry before it answers; `before_tool_call`'s default budget is 15 s and
 * fails closed (the call blocked with no answer), so the handler asks for a minute.
 */
const HOOK_TIMEOUT_MS = 60_000;

export async function agentUpdateDecision(
  event: ToolCallEvent,
  ctx: ToolCallContext,
  actions: ChatActions,
): Promise<ToolCallDecision | undefined> {
  if (event.toolName !== GATEWAY_TOOL || event.params?.action !== UPDATE_ACTION) return undefined;
  if (ctx.requester?.senderIsOwner !== true) return undefined;
  let said: string;
  try {
    said = await scheduleFromChat(actions, 'update', undefined, ctx);
  } catch (error) {
    said = refusedText('update', error);
  }
  return { block: true, blockReason: `release-switcher runs this gateway's updates, not update.run. ${said}` };
}

export function registerAgentUpdate(api: PluginApi, actions: ChatActions, logger: Logger): void {
  if (!api.on) {
    logger.info("release-switcher: this OpenClaw has no typed plugin hooks: the agent's update.run is left to core");
    return;
  }
  api.on('before_tool_call', (event, ctx) => agentUpdateDecision(event, ctx, actions), {
    matcher: [GATEWAY_TOOL],
    timeoutMs: HOOK_TIMEOUT_MS,
  });
}
