/**
 * The part of OpenClaw's plugin API (`openclaw/plugin-sdk/plugin-entry`, 2026.9) this plugin uses, written out
 * structurally: the plugin imports nothing from openclaw at load time, so it builds and loads without the host's
 * 500 MB package in this repository, and a host that lacks a member fails at the call, not at import.
 */

/** What a gateway RPC handler answers with: `respond(true, payload)` or `respond(false, undefined, error)`. */
export type Respond = (
  ok: boolean,
  payload?: unknown,
  error?: { code: string; message: string; details?: unknown },
) => void;

export interface GatewayRequest {
  params: Record<string, unknown>;
  respond: Respond;
}

export interface CommandContext {
  /** The words after `/releases`. */
  args?: string;
  channel: string;
  isAuthorizedSender: boolean;
  senderIsOwner?: boolean;
  agentId?: string;
  sessionKey?: string;
  sessionId?: string;
}

export interface CommandResult {
  text: string;
}

export interface CommandDefinition {
  name: string;
  description: string;
  acceptsArgs?: boolean;
  requireAuth?: boolean;
  requiredScopes?: string[];
  handler: (ctx: CommandContext) => CommandResult | Promise<CommandResult>;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error?(message: string): void;
}

export interface ServiceContext {
  stateDir: string;
  logger: Logger;
  config?: unknown;
}

export interface Service {
  id: string;
  start: (ctx: ServiceContext) => void | Promise<void>;
  stop?: (ctx: ServiceContext) => void | Promise<void>;
}

/** A Commander command, as much of it as the registrar touches. */
export interface CliCommand {
  command(name: string): CliCommand;
  description(text: string): CliCommand;
  allowUnknownOption(allow?: boolean): CliCommand;
  allowExcessArguments(allow?: boolean): CliCommand;
  helpOption(flags: string | boolean): CliCommand;
  argument(name: string, description?: string): CliCommand;
  action(fn: (...args: unknown[]) => void | Promise<void>): CliCommand;
}

export interface CliDescriptor {
  name: string;
  description: string;
  hasSubcommands: boolean;
  /** True when stdout carries JSON only, so OpenClaw routes its start-up diagnostics to stderr. */
  machineOutput?: (input: { argv: readonly string[]; stdoutIsTTY?: boolean }) => boolean;
}

/** The Node request and response a plugin HTTP route gets, as much of them as the route touches. */
export interface HttpRequest {
  method?: string;
  url?: string;
}
export interface HttpResponse {
  statusCode: number;
  setHeader(name: string, value: string): void;
  end(body?: string): void;
}

export interface HttpRoute {
  path: string;
  /** `gateway`: the gateway's own authentication (the token), required before the handler runs. */
  auth: 'gateway' | 'plugin';
  match?: 'exact' | 'prefix';
  /** True when it handled the request. */
  handler: (req: HttpRequest, res: HttpResponse) => boolean | Promise<boolean>;
}

/** A Control UI contribution (`surface: "tab"`: a sidebar tab framing `path`). */
export interface ControlUiDescriptor {
  surface: 'tab';
  id: string;
  label: string;
  description?: string;
  group?: 'control' | 'agent';
  path?: string;
  requiredScopes?: string[];
}

/** `before_tool_call`'s event (docs/plugins/hooks/tool-policy.md), as much of it as the handler reads. */
export interface ToolCallEvent {
  toolName: string;
  params?: Record<string, unknown>;
}

/** Its context: the host-derived requester (a missing field is unproven, not false) and the conversation. */
export interface ToolCallContext {
  agentId?: string;
  sessionKey?: string;
  sessionId?: string;
  requester?: { channel?: string; senderId?: string; senderIsOwner?: boolean };
}

/** What it may answer: `block` (terminal) with the reason the agent reads; undefined: no decision. */
export interface ToolCallDecision {
  block?: boolean;
  blockReason?: string;
}

export interface PluginApi {
  id: string;
  /** `plugins.entries.<id>.config` */
  pluginConfig?: Record<string, unknown>;
  /** Where this plugin's files were installed. */
  rootDir?: string;
  registrationMode?: string;
  logger: Logger;
  registerCli(
    registrar: (ctx: { program: CliCommand }) => void | Promise<void>,
    opts?: { descriptors?: CliDescriptor[] },
  ): void;
  registerGatewayMethod(
    method: string,
    handler: (request: GatewayRequest) => void | Promise<void>,
    opts?: { scope?: string },
  ): void;
  registerCommand(command: CommandDefinition): void;
  registerService(service: Service): void;
  /** The host's runtime helpers, as much of them as the plugin uses (docs/plugins/sdk-runtime/state-and-system.md). */
  runtime?: { state?: { resolveStateDir?(env: NodeJS.ProcessEnv): string } };
  /** Typed plugin hooks; absent on a host without them. */
  on?(
    hook: 'before_tool_call',
    handler: (
      event: ToolCallEvent,
      ctx: ToolCallContext,
    ) => ToolCallDecision | undefined | Promise<ToolCallDecision | undefined>,
    opts?: { matcher?: string[]; priority?: number; timeoutMs?: number },
  ): void;
  /** Absent on hosts without plugin HTTP routes. */
  registerHttpRoute?(route: HttpRoute): void;
  session?: { controls?: { registerControlUiDescriptor?(descriptor: ControlUiDescriptor): void } };
  /** The flat, deprecated spelling of `session.controls.registerControlUiDescriptor`. */
  registerControlUiDescriptor?(descriptor: ControlUiDescriptor): void;
}
