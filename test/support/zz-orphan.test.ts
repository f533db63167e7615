import { test } from 'vitest';
import { startUserManager } from '/work/main/test/support/systemd.ts';
test('orphan', async () => {
  const um = await startUserManager({ name: 'orphan' });
  await um.writeUnit('rs-o.service', `[Service]\nExecStart=/usr/bin/sleep 600\n`);
  await um.systemctl(['start', 'rs-o.service']);
  console.log('MANAGER', um.pid, um.root, (await um.pids()).join(' '));
  process.kill(process.pid, 'SIGKILL');
}, 30000);
