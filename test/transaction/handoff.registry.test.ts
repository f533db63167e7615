// The hand-off outside systemd (pm2 and others): a runner in a session of its own, through the subprocess helper.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { describeWhere, onLinux } from '../support/skip.ts';
import { CLI_MAIN } from '../../src/platform/self.ts';
import type { Config } from '../../src/store/config.ts';
import { launchRunner } from '../../src/transaction/handoff.ts';

async function until(what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describeWhere(onLinux, 'launchRunner under pm2', () => {
  it("starts the pinned copy's versioned `<node> <cli> --root ROOT run-transaction ID` detached, in its own session, logging to runner.log", async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'rs-handoff-'));
    onTestFinished(() => execFileSync('rm', ['-rf', root])); // with the sealed copy: root ignores its modes
    // Stands in for node: says how it was called and in which session, then outlives the call a little.
    const fakeNode = path.join(root, 'fake-node');
    writeFileSync(
      fakeNode,
      '#!/bin/sh\necho "argv $*"\necho "session $(ps -o sid= -p $$ | tr -d " ")"\nsleep 0.3\necho done\n',
    );
    chmodSync(fakeNode, 0o755);
    const how = await launchRunner({
      config: { supervisor: 'pm2' } as Config,
      root,
      txId: 'tx-1',
      env: { PATH: '/usr/bin:/bin', RELEASE_SWITCHER_TOOL_HOME: path.join(root, 'tool') },
      execPath: fakeNode,
    });
    const pid = Number(/^detached process (\d+)$/.exec(how)?.[1]);
    expect(pid).toBeGreaterThan(0);
    const log = path.join(root, 'runner.log');
    await until('the runner to finish', () => readFileSync(log, 'utf8').includes('done'));
    const text = readFileSync(log, 'utf8');
    // Not this installation's path (npm may move it) nor the tool home's `current` (a flip must not move a runner
    // mid-way): the copy of this installation and of its Node, by their versioned paths (src/tool/).
    const [copy] = readdirSync(path.join(root, 'tool', 'versions'));
    const versioned = path.join(root, 'tool', 'versions', copy!);
    expect(text).toContain(
      `argv ${path.join(versioned, 'package', 'dist', 'cli', 'main.js')} --root ${root} run-transaction tx-1`,
    );
    expect(readFileSync(path.join(versioned, 'node'), 'utf8')).toBe(readFileSync(fakeNode, 'utf8'));
    expect(CLI_MAIN).not.toContain(versioned);
    expect(text).toContain(`session ${pid}`);
  });
});

describeWhere(onLinux, 'launchRunner with cliPath', () => {
  it("runs the named CLI instead of this installation's (a host whose copy of the library may be gone by then)", async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'rs-handoff-'));
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    const fakeNode = path.join(root, 'fake-node');
    writeFileSync(fakeNode, '#!/bin/sh\necho "argv $*"\n');
    chmodSync(fakeNode, 0o755);
    const cliPath = path.join(root, 'installed', 'release-switcher', 'dist', 'cli', 'main.js');
    await launchRunner({
      config: { supervisor: 'pm2' } as Config,
      root,
      txId: 'tx-2',
      env: { PATH: '/usr/bin:/bin' },
      execPath: fakeNode,
      cliPath,
    });
    const log = path.join(root, 'runner.log');
    await until('the runner to start', () => readFileSync(log, 'utf8').includes('argv'));
    expect(readFileSync(log, 'utf8')).toContain(`argv ${cliPath} --root ${root} run-transaction tx-2`);
  });
});
