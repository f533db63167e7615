// Issue 21 item 1a: what a rehearsed candidate inherits. The service's own environment (read from its running main
// process) under the caller's harmless basics; never a caller's credential, never the per-process variables a
// manager sets for the live service (a candidate holding NOTIFY_SOCKET would notify the live service's manager).
import { spawn } from 'node:child_process';
import { expect, it, onTestFinished } from 'vitest';
import { candidateEnvironment } from '../../src/rehearsal/candidate-env.ts';

const caller = {
  PATH: '/caller/bin',
  LANG: 'C.UTF-8',
  HOME: '/caller-home',
  NPM_TOKEN: 'npm_callersecret',
  AWS_SECRET_ACCESS_KEY: 'x',
};

/** A real process standing for the service, started with `env` (its /proc/<pid>/environ). */
async function serviceProcess(env: Record<string, string>): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { env, stdio: 'ignore' });
  onTestFinished(() => void child.kill('SIGKILL'));
  await new Promise((resolve) => child.once('spawn', resolve));
  return child.pid!;
}

it("the service's environment wins over the caller's basics; the caller's secrets and the per-process variables stay out", async () => {
  const pid = await serviceProcess({
    PATH: '/service/bin',
    HOME: '/var/lib/gateway',
    GATEWAY_TOKEN: 'the-service-own',
    INVOCATION_ID: 'abc',
    NOTIFY_SOCKET: '/run/systemd/notify',
    LISTEN_FDS: '1',
    pm_id: '3',
  });
  const { env, from } = await candidateEnvironment({ callerEnv: caller, servicePid: pid });
  expect(env).toEqual({
    PATH: '/service/bin',
    HOME: '/var/lib/gateway',
    LANG: 'C.UTF-8',
    GATEWAY_TOKEN: 'the-service-own',
  });
  expect(from).toBe(`the service's process ${pid}`);
});

it("no running service (or pid 1, or a pid that cannot be read): the caller's basics only", async () => {
  for (const servicePid of [null, 0, 1, 2 ** 22 + 12345]) {
    const { env } = await candidateEnvironment({ callerEnv: caller, servicePid });
    expect(env, String(servicePid)).toEqual({ PATH: '/caller/bin', LANG: 'C.UTF-8', HOME: '/caller-home' });
  }
});
