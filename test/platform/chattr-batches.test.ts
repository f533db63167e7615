// chattr's argument lists: few and large (each chattr is a fork of our process, whose cost grows with
// its heap), each within the kernel's limit on an exec's arguments, in order, split for two processes.
import { describe, expect, it } from 'vitest';
import { argvBatches } from '../../src/platform/immutable.ts';

const argvBytes = (batch: string[]) => batch.reduce((sum, p) => sum + Buffer.byteLength(p) + 1 + 8, 0);
const paths = (count: number, length: number) =>
  Array.from({ length: count }, (_, i) => `/root/releases/1.0.0/${String(i).padStart(8, '0')}`.padEnd(length, 'x'));

describe('argvBatches', () => {
  it('keeps a short list whole, in order', () => {
    const list = paths(1500, 100);
    expect(argvBatches(list, 2)).toEqual([list]);
    expect(argvBatches([], 2)).toEqual([]);
  });

  it('splits a long list of short paths into two about equal halves, one per process', () => {
    const list = paths(4000, 100);
    const batches = argvBatches(list, 2);
    expect(batches).toHaveLength(2);
    expect(batches.flat()).toEqual(list);
    expect(Math.abs(batches[0]!.length - batches[1]!.length)).toBeLessThanOrEqual(1);
  });

  it('never puts more than 512 KiB of arguments in one list, whatever the paths are (multibyte names too)', () => {
    for (const list of [paths(6000, 1000), paths(3000, 4000), paths(20_000, 60).map((p) => `${p}/é-文件`)]) {
      const batches = argvBatches(list, 2);
      expect(batches.flat()).toEqual(list);
      for (const batch of batches) expect(argvBytes(batch)).toBeLessThanOrEqual(512 * 1024);
      // As few as the budget allows (one more where whole paths do not fill a list to the byte).
      expect(batches.length).toBeLessThanOrEqual(Math.ceil(argvBytes(list) / (512 * 1024)) + 1);
    }
  });

  it('runs one process at a time for lsattr (no parallel split asked)', () => {
    const list = paths(4000, 100);
    expect(argvBatches(list)).toEqual([list]);
  });
});
