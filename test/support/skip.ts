// A suite that needs something this machine may lack (root, Linux, systemd, chattr). Its title says why
// it is skipped and where it runs instead, so a skip never reads as a pass.
import { describe } from 'vitest';

export function describeWhere(
  can: { ok: boolean; why?: string | undefined; where?: string },
  title: string,
  body: () => void,
): void {
  if (can.ok) {
    describe(title, body);
    return;
  }
  const reason = `skipped: ${can.why ?? 'not available here'}; it runs ${can.where ?? 'in CI, as root on Linux'}`;
  // Also on stderr: the default reporter prints a skipped test's count, not its title, and a skip must say why.
  process.stderr.write(`${title}: ${reason}\n`);
  describe.skip(`${title} (${reason})`, body);
}

export const onLinux = {
  ok: process.platform === 'linux',
  why: `process groups and /proc are Linux's; this is ${process.platform}`,
  where: 'on Linux: CI and every Linux machine',
};
