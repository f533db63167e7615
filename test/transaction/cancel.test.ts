// An abort reaches the driver's steps after the flip too: verify stops between probes and the call rejects with
// CANCELLED, the transaction left in flight as a killed run leaves it (not rolled back, the release not judged), and
// recovery carries it on.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { activate } from '../../src/transaction/activate.ts';
import { mutate } from '../../src/transaction/mutate.ts';
import { fixtureRoots } from '../support/fixture-root.ts';
import { linkOf, readState } from '../support/root.ts';
import { FakeSupervisor } from './fake-supervisor.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';

runThisFileAsRoot(
  'it drives transactions in this process (as root) on roots it made: root acts only on roots of its own',
);

/** 1.0.0 current, 1.2.0 installed. */
const freshRoot = fixtureRoots(['1.0.0', '1.2.0']);
const fakes: FakeSupervisor[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

it('an abort during verify: CANCELLED within moments, the switch left verifying for recovery, nothing judged', async () => {
  const root = freshRoot();
  const fake = new FakeSupervisor(root);
  await fake.listen();
  fakes.push(fake);
  fake.running = '1.0.0';
  fake.behaviour = { '1.2.0': 'timeout' }; // never answers: verify would wait its whole timeout, then roll back
  const file = join(root, 'config.json');
  const config = { ...JSON.parse(readFileSync(file, 'utf8')), supervisor: 'systemd', unit: fake.unit };
  writeFileSync(file, JSON.stringify({ ...config, healthUrl: fake.url, verifyTimeout: 60, stableFor: 0 }, null, 2));
  const controller = new AbortController();
  let aborted = 0;
  const onProgress = (event: { phase: string }) => {
    if (event.phase === 'verify' && !aborted) {
      aborted = Date.now();
      controller.abort();
    }
  };
  const switching = mutate(
    { root, signal: controller.signal, onProgress },
    'test switch',
    (session) => activate(session, { kind: 'switch', target: '1.2.0', supervisor: fake }),
    { supervisor: fake },
  );
  await expect(switching).rejects.toMatchObject({ code: 'CANCELLED' });
  expect(aborted).toBeGreaterThan(0);
  expect(Date.now() - aborted).toBeLessThan(5_000); // not the 60 s verify timeout
  const state = readState(root);
  expect(state.transaction).toMatchObject({ status: 'verifying', to: '1.2.0' });
  expect(state.releases['1.2.0'].state).toBe('pending'); // not marked bad: the caller stopped, the release did not fail
  expect(linkOf(root, 'current')).toBe('releases/1.2.0');
  // The next command's recovery verifies it again, now that it answers.
  fake.behaviour = {};
  await mutate({ root }, 'test recover', async ({ recovery }) => recovery, { supervisor: fake });
  const recovered = readState(root);
  expect(recovered.transaction).toBeNull();
  expect(recovered.history.at(-1)).toMatchObject({ status: 'verified', to: '1.2.0' });
  expect(recovered.releases['1.2.0'].state).toBe('good');
}, 120_000);
