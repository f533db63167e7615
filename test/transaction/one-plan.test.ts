// One plan: `--dry-run` lists the steps the driver runs, in its order (steps.ts SWITCH_STEPS), the rehearsal included.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { planSwitchTo } from '../../src/verbs/switch.ts';
import { activate } from '../../src/transaction/activate.ts';
import { mutate } from '../../src/transaction/mutate.ts';
import { SWITCH_STEPS } from '../../src/transaction/steps.ts';
import { fixtureRoots } from '../support/fixture-root.ts';
import { FakeSupervisor } from './fake-supervisor.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';

runThisFileAsRoot('it plans in this process (as root) on roots it made: root acts only on roots of its own');

/** 1.0.0 current, 1.2.0 installed. */
const freshRoot = fixtureRoots(['1.0.0', '1.2.0']);
const fakes: FakeSupervisor[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

function configure(root: string, changes: Record<string, unknown>): void {
  const file = join(root, 'config.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...changes }, null, 2));
}

it('the plan is the steps the driver records, in SWITCH_STEPS order', async () => {
  const root = freshRoot();
  const fake = new FakeSupervisor(root);
  await fake.listen();
  fakes.push(fake);
  fake.running = '1.0.0';
  configure(root, { supervisor: 'systemd', unit: fake.unit, healthUrl: fake.url, verifyTimeout: 5, stableFor: 0 });
  const plan = await planSwitchTo({ root, version: '1.2.0' });
  const tx = await mutate(
    { root },
    'test switch',
    (session) => activate(session, { kind: 'switch', target: '1.2.0', supervisor: fake }),
    { supervisor: fake },
  );
  expect(tx.status).toBe('verified');
  expect(plan.steps).toEqual(tx.steps.map((step) => step.name));
  expect(plan.steps).toEqual(SWITCH_STEPS.filter((name) => plan.steps.includes(name)));
});

it('a rehearsal the config asks for is in the plan, before the flip; --no-preflight takes it out', async () => {
  const root = freshRoot();
  configure(root, {
    supervisor: 'systemd',
    unit: 'x.service',
    healthUrl: 'http://127.0.0.1:9/health',
    preflight: ['x.js'],
  });
  expect((await planSwitchTo({ root, version: '1.2.0' })).steps).toEqual([
    'verify-release',
    'preflight',
    'flip',
    'restart',
    'verify',
  ]);
  expect((await planSwitchTo({ root, version: '1.2.0', preflight: false })).steps).toEqual([
    'verify-release',
    'flip',
    'restart',
    'verify',
  ]);
});
