// `--accept-capabilities` (OpenClaw's consent to plugins' reviewed capability changes) travels with the activation: it
// is journaled on the transaction, for a switch run here and for one handed to a runner (which reads its orders from
// the journal), and the target's finalize is given the preset's consent flag only then. Driven through runCli with a
// stand-in runner (the hand-off is real) and through the driver with a fake supervisor; the flag reaching OpenClaw's
// own finalize is the preset's words (presets/openclaw/index.ts), checked here as the command line the step builds.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.ts';
import { PRESETS } from '../../src/presets/index.ts';
import { finalizeArgs } from '../../src/transaction/finalize-choice.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';
import { cliEnv, tempDir } from '../support/cli.ts';
import { fixtureRoots } from '../support/fixture-root.ts';
import { readState } from '../support/root.ts';
import { fakeSupervision, switchThrough } from './fake-supervisor.ts';

runThisFileAsRoot('it runs the CLI in this process (runCli, to name a stand-in runner) on a root it made');

const freshRoot = fixtureRoots(['1.0.0', '1.1.0']);
const supervise = fakeSupervision();

describe('--accept-capabilities', () => {
  it('the openclaw finalize gets --accept-capabilities only when the transaction was asked for it', () => {
    const finalize = PRESETS.openclaw!.finalize!;
    const command = ['dist/index.js', 'update', 'finalize', '--json', '--yes', '--no-restart'];
    expect(finalizeArgs(finalize, {})).toEqual(command);
    expect(finalizeArgs(finalize, { acceptCapabilities: true })).toEqual([...command, '--accept-capabilities']);
  });

  it('a switch run here records it on the transaction; one without it records nothing', async () => {
    for (const accept of [true, false]) {
      const root = freshRoot();
      const tx = await switchThrough(root, await supervise(root), '1.1.0', { acceptCapabilities: accept });
      expect(tx.status).toBe('verified');
      if (accept) expect(tx.acceptCapabilities).toBe(true);
      else expect(tx).not.toHaveProperty('acceptCapabilities');
    }
  });

  it('a switch handed to a runner carries it in the journal the runner reads', async () => {
    const root = freshRoot();
    const config = JSON.parse(readFileSync(join(root, 'config.json'), 'utf8'));
    writeFileSync(join(root, 'config.json'), JSON.stringify({ ...config, supervisor: 'pm2', unit: 'gateway' }));
    const standIn = join(tempDir('rs-accept-'), 'runner.mjs');
    writeFileSync(standIn, `console.log('runner', process.argv.slice(2).join(' '));\n`);
    let out = '';
    const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: () => true }, cliPath: standIn };
    const code = await runCli(
      ['--root', root, '--json', 'switch', '1.1.0', '--handoff', 'always', '--accept-capabilities'],
      {
        ...io,
        env: cliEnv(),
      },
    );
    expect(code, out).toBe(0);
    const tx = JSON.parse(out).result;
    expect(tx).toMatchObject({ status: 'scheduled', acceptCapabilities: true });
    expect(readState(root).transaction).toMatchObject({ id: tx.id, status: 'scheduled', acceptCapabilities: true });
    expect(existsSync(join(root, 'runner.log'))).toBe(true);
  });
});
