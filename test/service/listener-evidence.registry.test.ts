// The contract's success evidence: which process owns a port's listening socket, and /readyz recorded as it answers.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { listenerEvidence, ownsListener } from '../../src/service/listener-evidence.ts';
import { itWhere, onLinux } from '../support/skip.ts';

itWhere(
  onLinux,
  'the listening process owns the port and another does not; /readyz is recorded with its status and body (Linux: /proc)',
  async () => {
    const server = http.createServer((req, res) => {
      res.statusCode = req.url === '/readyz' ? 503 : 200;
      res.end(JSON.stringify({ ready: false, failing: ['telegram'] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const other = spawn('sleep', ['30']);
    try {
      expect(await ownsListener(process.pid, `http://127.0.0.1:${port}/startupz`)).toBe(true);
      expect(await ownsListener(other.pid!, `http://127.0.0.1:${port}/startupz`)).toBe(false);
      const evidence = await listenerEvidence({ pid: process.pid, healthUrl: `http://127.0.0.1:${port}/startupz` });
      expect(evidence).toEqual({
        mainPidOwnsListener: true,
        readyz: { status: 503, body: { ready: false, failing: ['telegram'] } },
      });
    } finally {
      other.kill();
      server.close();
    }
  },
);

itWhere(
  onLinux,
  '/readyz asked again while it gives no answer at all (a busy gateway answers one request late); no answer thrice is recorded as none',
  async () => {
    let asked = 0;
    let answerFrom = 2;
    const server = http.createServer((req, res) => {
      if (req.url !== '/readyz') return res.end('{}');
      asked++;
      if (asked < answerFrom) return req.socket.destroy(); // no answer: the connection dropped
      res.end(JSON.stringify({ ready: true, failing: [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const healthUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/startupz`;
    try {
      expect((await listenerEvidence({ pid: null, healthUrl })).readyz).toEqual({
        status: 200,
        body: { ready: true, failing: [] },
      });
      expect(asked).toBe(2);
      asked = 0;
      answerFrom = 100;
      const none = (await listenerEvidence({ pid: null, healthUrl })).readyz;
      expect(none.status).toBeNull();
      expect(asked).toBe(3);
    } finally {
      server.close();
    }
  },
);
