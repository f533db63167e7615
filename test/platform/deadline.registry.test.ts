// A wait on the network settles by its deadline (platform/deadline.ts). CI saw `status --json` exit 13 with no
// output while a runner restarted the service it probes: a fetch that stalls with no socket left open, guarded
// only by AbortSignal.timeout (an unref'd timer), leaves nothing to keep the process alive, and Node ends a
// process whose top-level await never settles with exit 13.
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withDeadline } from '../../src/platform/deadline.ts';
import { getJson } from '../../src/service/health.ts';

// The built module (npm test builds first), run in a child of its own.
const DEADLINE_JS = join(import.meta.dirname, '../../dist/platform/deadline.js');

/** Run `body` as a module whose top-level await is the last thing it does. */
function topLevel(body: string) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', body], { encoding: 'utf8', timeout: 20_000 });
}

describe('withDeadline', () => {
  it("a top-level await on work that never settles and holds nothing open: the unref'd timeout ends in exit 13 without a word, withDeadline in its error", () => {
    // What the code did: the signal's timer does not keep the process alive.
    const bare = topLevel(
      `const signal = AbortSignal.timeout(300); await new Promise((resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));`,
    );
    expect(bare.status).toBe(13);
    const guarded = topLevel(
      `import { withDeadline } from ${JSON.stringify(DEADLINE_JS)}; await withDeadline(300, 'GET http://stalled', () => new Promise(() => {}));`,
    );
    expect(guarded.status).toBe(1);
    expect(guarded.stderr).toContain('GET http://stalled: no answer within 300 ms');
  });

  it("returns the work's answer and leaves no timer behind", async () => {
    const started = Date.now();
    await expect(withDeadline(5_000, 'quick', async () => 42)).resolves.toBe(42);
    expect(Date.now() - started).toBeLessThan(1_000);
    // A process that only ran a quick one exits at once, not after the deadline.
    const r = topLevel(
      `import { withDeadline } from ${JSON.stringify(DEADLINE_JS)}; const t = Date.now(); await withDeadline(10_000, 'quick', async () => 1); process.on('exit', () => console.log(Date.now() - t));`,
    );
    expect(r.status).toBe(0);
    expect(Number(r.stdout.trim())).toBeLessThan(1_000);
  });

  it('aborts the signal it gave the work when the deadline passes', async () => {
    let seen: AbortSignal | undefined;
    const never = (signal: AbortSignal) => {
      seen = signal;
      return new Promise<never>(() => {});
    };
    await expect(withDeadline(100, 'slow', never)).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(seen?.aborted).toBe(true);
  });
});

describe('getJson (health probes, status.running, doctor)', () => {
  const servers: http.Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      server.close();
    }
  });
  async function serve(handler: http.RequestListener): Promise<string> {
    const server = http.createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
  }

  it('answers with status and body', async () => {
    const url = await serve((_req, res) => res.end(JSON.stringify({ version: '1.2.3' })));
    await expect(getJson(url, 2_000)).resolves.toEqual({ status: 200, body: { version: '1.2.3' } });
  });

  it('a server that accepts and never answers: rejected by the deadline', async () => {
    const url = await serve(() => undefined);
    const started = Date.now();
    await expect(getJson(url, 300)).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a server that closes the connection half-way through the body: rejected at once, not a wait', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"version": "1.');
      setTimeout(() => res.socket?.destroy(), 50);
    });
    const started = Date.now();
    await expect(getJson(url, 5_000)).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
