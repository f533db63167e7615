// A stand-in for Telegram's Bot API on loopback, for a real gateway's Telegram channel (test/transaction/
// readiness.openclaw.test.ts): OpenClaw's bundled channel takes a custom API root (`channels.telegram.apiRoot`,
// docs/channels/telegram.md) and calls `<apiRoot>/bot<token>/<method>` as grammY does. It answers what the channel
// calls at start and while it polls: `getMe` (the startup probe), `getUpdates` (held as a long poll, then no updates),
// and every other method (`deleteWebhook`, `setMyCommands`, `deleteMyCommands`…) with `true`. `unauthorized()` makes
// it answer every call as Telegram answers a revoked token (401 Unauthorized), the polls it holds included; `ok()`
// takes it back. Every call is recorded: its method, when, and the status it got. No dependencies.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A well-formed bot token (`<bot id>:<35 characters>`), for this fake only. */
export const FAKE_BOT_TOKEN = '7000000001:AAFakeTokenForReleaseSwitcherTests1';
const BOT = {
  id: 7000000001,
  is_bot: true,
  first_name: 'RS Test',
  username: 'rs_test_bot',
  can_join_groups: true,
  can_read_all_group_messages: false,
  supports_inline_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false,
};
const UNAUTHORIZED = { ok: false, error_code: 401, description: 'Unauthorized' };

export interface BotApiCall {
  method: string;
  /** performance.now() of this process when the call came. */
  at: number;
  status: number;
}

export interface FakeBotApi {
  /** What `channels.telegram.apiRoot` is set to. */
  apiRoot: string;
  calls: BotApiCall[];
  /** From now on every call is answered 401 Unauthorized, and so are the long polls held now. */
  unauthorized(): void;
  /** From now on calls are answered as a valid token's are. */
  ok(): void;
  close(): Promise<void>;
}

export async function startFakeBotApi(options: { token?: string } = {}): Promise<FakeBotApi> {
  const token = options.token ?? FAKE_BOT_TOKEN;
  let authorized = true;
  const calls: BotApiCall[] = [];
  /** Long polls held: answered with no updates when their timeout is up, at once when the token stops working. */
  const held = new Map<ServerResponse, NodeJS.Timeout>();
  const answer = (res: ServerResponse, status: number, body: unknown) => {
    if (res.writableEnded) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const release = (res: ServerResponse, status: number, body: unknown) => {
    clearTimeout(held.get(res));
    held.delete(res);
    answer(res, status, body);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
      const method = match?.[2] ?? url.pathname;
      const record = (status: number) => calls.push({ method, at: performance.now(), status });
      if (!match) {
        record(404);
        return answer(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
      }
      if (!authorized || match[1] !== token) {
        record(401);
        return answer(res, 401, UNAUTHORIZED);
      }
      record(200);
      if (method === 'getMe') return answer(res, 200, { ok: true, result: BOT });
      if (method !== 'getUpdates') return answer(res, 200, { ok: true, result: true });
      let params: Record<string, unknown> = Object.fromEntries(url.searchParams);
      try {
        if (chunks.length > 0) params = { ...params, ...JSON.parse(Buffer.concat(chunks).toString('utf8')) };
      } catch {
        // a form body: the defaults below
      }
      const seconds = Math.min(Number(params.timeout ?? 0) || 0, 25);
      held.set(
        res,
        setTimeout(() => release(res, 200, { ok: true, result: [] }), seconds * 1000),
      );
      res.on('close', () => {
        clearTimeout(held.get(res));
        held.delete(res);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiRoot: `http://127.0.0.1:${port}`,
    calls,
    unauthorized() {
      authorized = false;
      for (const res of [...held.keys()]) release(res, 401, UNAUTHORIZED);
    },
    ok() {
      authorized = true;
    },
    async close() {
      for (const res of [...held.keys()]) release(res, 200, { ok: true, result: [] });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
