/**
 * A supervisor without root: it "runs" whatever `current` names when it is restarted, and a tiny
 * node:http server answers the health probe as that release would. Each version can be told how to
 * misbehave, one per failure reason the verifier knows.
 */
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { ServiceState, Supervisor } from '../../src/service/supervisors/types.ts';
import { type ActivateRequest, activate } from '../../src/transaction/activate.ts';
import { mutate } from '../../src/transaction/mutate.ts';

export type Behaviour = 'ok' | 'restart_failed' | 'unhealthy' | 'version_mismatch' | 'crashed' | 'exit_78' | 'timeout';

export class FakeSupervisor implements Supervisor {
  readonly name = 'systemd' as const;
  readonly unit = 'fake.service';
  /** Per version; unlisted versions behave. */
  behaviour: Record<string, Behaviour> = {};
  running: string | null = null;
  restarts = 0;
  pid = 1000;
  private server!: Server;
  url = '';

  constructor(private readonly root: string) {}

  async listen(): Promise<void> {
    this.server = createServer((_req, res) => {
      const b = this.running ? (this.behaviour[this.running] ?? 'ok') : 'timeout';
      if (b === 'timeout') return void res.destroy();
      res.statusCode = b === 'unhealthy' ? 500 : 200;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ version: b === 'version_mismatch' ? '0.0.0-other' : this.running }));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/health`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private current(): string {
    return readlinkSync(join(this.root, 'current')).replace(/^releases\//, '');
  }

  async restart(): Promise<void> {
    const version = this.current();
    if (this.behaviour[version] === 'restart_failed') throw new Error(`fake: ${this.unit} refused to start ${version}`);
    this.running = version;
    this.pid++;
    this.restarts = 0;
  }

  async start(): Promise<void> {
    await this.restart();
  }

  async state(): Promise<ServiceState> {
    const b = this.running ? (this.behaviour[this.running] ?? 'ok') : 'ok';
    if (b === 'exit_78')
      return { active: false, state: 'failed', mainPid: null, restarts: this.restarts, exitStatus: 78 };
    if (b === 'crashed') {
      this.restarts++; // the supervisor keeps restarting it: a new restart count each look
      return {
        active: true,
        state: 'active',
        mainPid: this.pid + this.restarts,
        restarts: this.restarts,
        exitStatus: 1,
      };
    }
    return { active: true, state: 'active', mainPid: this.pid, restarts: this.restarts, exitStatus: null };
  }
}

/** `root`'s config.json with `changes` merged in. */
export function configureRoot(root: string, changes: Record<string, unknown>): void {
  const file = join(root, 'config.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...changes }, null, 2));
}

/**
 * For a test file: a function that puts a root under a fake supervisor (1.0.0 running, its health on a port of its
 * own, `behaviour` per version, a 1 s verify with no stability wait unless `config` says otherwise), each closed after
 * the file's tests: a test's own hook would be another's where tests run concurrently (the global `onTestFinished`
 * names no test there), and a port of its own per fake keeps them apart meanwhile.
 */
export function fakeSupervision(): (
  root: string,
  behaviour?: Record<string, Behaviour>,
  config?: Record<string, unknown>,
) => Promise<FakeSupervisor> {
  const fakes: FakeSupervisor[] = [];
  afterAll(async () => {
    await Promise.all(fakes.splice(0).map((f) => f.close()));
  });
  return async (root, behaviour = {}, config = {}) => {
    const fake = new FakeSupervisor(root);
    await fake.listen();
    fakes.push(fake);
    fake.running = '1.0.0';
    fake.behaviour = behaviour;
    configureRoot(root, {
      supervisor: 'systemd',
      unit: fake.unit,
      healthUrl: fake.url,
      verifyTimeout: 1,
      stableFor: 0,
      ...config,
    });
    return fake;
  };
}

/** A switch of `root` to `target`, driven through `fake` under the root's lock (`request`: the rest of the activation). */
export function switchThrough(
  root: string,
  fake: FakeSupervisor,
  target: string,
  request: Partial<Pick<ActivateRequest, 'acceptCapabilities' | 'preflight'>> = {},
) {
  return mutate(
    { root },
    'test switch',
    (session) => activate(session, { kind: 'switch', target, supervisor: fake, ...request }),
    { supervisor: fake },
  );
}
