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
      expect(await ownsListener(process.pid, port)).toBe(true);
      expect(await ownsListener(other.pid!, port)).toBe(false);
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
