// A slow OpenAI-compatible model endpoint on loopback, for a chat turn in flight on a real gateway while it is updated
// (test/transaction/finalize.openclaw.test.ts, bench/supervisor/openclaw-turn.bench.test.ts): `POST /v1/chat/completions` with
// `stream: true` answers in server-sent events, one short token every `intervalMs`, `tokens` of them, so a chat turn
// stays in flight long enough to update the gateway under it. Every request is recorded: when it came, the last user
// message's text (the prompt, or OpenClaw's synthetic "your turn was interrupted" continuation), how many messages it
// carried, and how it ended (`done`: the stream reached [DONE]; `aborted`: the client went away first). A request can
// be answered with a tool call instead (`toolCall`): the agent's turn then runs that tool, as a real model's would.
// Configured in openclaw as a custom provider (docs/gateway/config-tools/custom-providers.md, api
// `openai-completions`; `modelConfig` below). Also `GET /v1/models`. No dependencies.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What OpenClaw's restart recovery says to the model when it resumes an interrupted turn (2026.9.x: "[System] Your
 * previous turn was interrupted by a gateway restart …"): a resumed turn, not a client that sent its message again.
 */
export const RESUMED_TURN = /interrupted by a gateway restart/i;

export interface ModelRequest {
  id: number;
  /** performance.now() of this process when the request arrived, and when its stream ended. */
  at: number;
  endedAt?: number;
  ended?: 'done' | 'aborted';
  tokensSent: number;
  /** A chat turn's streamed answer (titles and probes ask without `stream`). */
  stream: boolean;
  messages: number;
  /** All message text, joined: enough to find the prompt's marker and OpenClaw's continuation in it. */
  text: string;
  lastUser: string;
  /** The tools the request offered the model, by name. */
  tools: string[];
  /** The text of each tool result the request carried (what a tool, or a hook that blocked it, answered). */
  toolResults: string[];
}

/** A tool call the model makes instead of answering in text (OpenAI's streamed `tool_calls`). */
export interface ScriptedToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

export interface SlowModel {
  port: number;
  baseUrl: string;
  requests: ModelRequest[];
  /** Resolves with the first request `predicate` accepts, seen already or to come; rejects after `timeoutMs`. */
  waitFor(predicate: (request: ModelRequest) => boolean, timeoutMs: number): Promise<ModelRequest>;
  /** Ends every answer streaming now (and any to come) after its next token, as a finished answer. */
  finishStreams(): void;
  close(): Promise<void>;
}

type ChatMessage = { role?: string; content?: unknown };
type OfferedTool = { function?: { name?: unknown } };

const textOf = (content: unknown): string =>
  typeof content === 'string'
    ? content
    : Array.isArray(content)
      ? content.map((part) => (typeof part?.text === 'string' ? part.text : '')).join(' ')
      : '';

async function bodyOf(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startSlowModel(options: {
  tokens: number;
  intervalMs: number;
  model: string;
  /** A streamed request this answers with a tool call (the agent's turn calls that tool) instead of text. */
  toolCall?: (request: ModelRequest) => ScriptedToolCall | undefined;
}): Promise<SlowModel> {
  const requests: ModelRequest[] = [];
  /** Set by `finishStreams`: every answer in progress ends with its next token. */
  let finishing = false;
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const wake of waiters) wake();
  };
  const server: Server = createServer(async (req, res) => {
    if (req.method === 'GET' && req.url?.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: options.model, object: 'model', owned_by: 'bench' }] }));
      return;
    }
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404).end();
      return;
    }
    const parsed = JSON.parse((await bodyOf(req)) || '{}') as {
      messages?: ChatMessage[];
      stream?: boolean;
      tools?: OfferedTool[];
    };
    const messages = parsed.messages ?? [];
    const record: ModelRequest = {
      id: requests.length + 1,
      at: performance.now(),
      tokensSent: 0,
      stream: parsed.stream === true,
      messages: messages.length,
      text: messages.map((m) => textOf(m.content)).join('\n'),
      lastUser: textOf(messages.filter((m) => m.role === 'user').at(-1)?.content),
      tools: (parsed.tools ?? []).map((t) => t.function?.name).filter((n): n is string => typeof n === 'string'),
      toolResults: messages.filter((m) => m.role === 'tool').map((m) => textOf(m.content)),
    };
    requests.push(record);
    notify();
    const chunk = (delta: object, finish: string | null) =>
      `data: ${JSON.stringify({
        id: `bench-${record.id}`,
        object: 'chat.completion.chunk',
        created: Math.floor(Date.now() / 1000),
        model: options.model,
        choices: [{ index: 0, delta, finish_reason: finish }],
      })}\n\n`;
    const end = (how: 'done' | 'aborted') => {
      if (record.ended) return;
      record.ended = how;
      record.endedAt = performance.now();
      notify();
    };
    res.on('close', () => end(res.writableFinished ? 'done' : 'aborted'));
    if (!parsed.stream) {
      // Not the chat path (a title or a probe): answer at once, whole.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: `bench-${record.id}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: options.model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(chunk({ role: 'assistant', content: '' }, null));
    const call = options.toolCall?.(record);
    if (call) {
      const id = `call-${record.id}`;
      const fn = { name: call.name, arguments: JSON.stringify(call.arguments) };
      res.write(chunk({ tool_calls: [{ index: 0, id, type: 'function', function: fn }] }, null));
      res.write(chunk({}, 'tool_calls'));
      res.end('data: [DONE]\n\n');
      return;
    }
    for (let i = 1; i <= options.tokens && !finishing; i++) {
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
      if (res.destroyed) return;
      res.write(chunk({ content: `t${i} ` }, null));
      record.tokensSent = i;
    }
    res.write(chunk({}, 'stop'));
    res.end('data: [DONE]\n\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    waitFor(predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = requests.find(predicate);
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no model request matched within ${timeoutMs} ms (${requests.length} seen)`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    finishStreams() {
      finishing = true;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The config entries that make `model` of `server` the gateway's default model (a custom provider `bench`). */
export function modelConfigObject(server: { baseUrl: string }, model: string): Record<string, unknown> {
  return {
    models: {
      providers: {
        bench: {
          baseUrl: server.baseUrl,
          apiKey: 'bench',
          api: 'openai-completions',
          models: [
            { id: model, name: model, reasoning: false, input: ['text'], contextWindow: 128000, maxTokens: 4096 },
          ],
        },
      },
    },
    agents: { defaults: { model: { primary: `bench/${model}` } } },
  };
}

/** The same as top-level entries of a JSON5 config text (writeOpenclawService's `config`). */
export function modelConfig(server: { baseUrl: string }, model: string): string {
  return Object.entries(modelConfigObject(server, model))
    .map(([key, value]) => `${key}: ${JSON.stringify(value)},`)
    .join('\n  ');
}
