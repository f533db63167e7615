// A suite that needs something this machine may lack (root, Linux, systemd, chattr). Its title says why
// it is skipped and where it runs instead, so a skip never reads as a pass.
import { describe } from 'vitest';

export function describeWhere(
  can: { ok: boolean; why?: string | undefined; where?: string },
  title: string,
  body: () => void,
): void {
  if (can.ok) describe(title, body);
  else
    describe.skip(
      `${title} (skipped: ${can.why ?? 'not available here'}; it runs ${can.where ?? 'in CI, as root on Linux'})`,
      body,
    );
}

export const onLinux = {
  ok: process.platform === 'linux',
  why: `process groups and /proc are Linux's; this is ${process.platform}`,
};
