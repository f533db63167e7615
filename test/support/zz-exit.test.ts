import { test } from 'vitest';
import { writeFileSync } from 'node:fs';
test('x', () => {
  process.once('exit', (c) => writeFileSync('/tmp/proto/exit-marker', `exit ${c}`));
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(s, () => { writeFileSync('/tmp/proto/sig-marker', s); process.exit(1); });
});
