// `--all`'s exit code is the worst of its roots': 4 > 3 > 2 > 1 > 5 > 0 (docs/exit-codes-and-json.md).
import { describe, expect, it } from 'vitest';
import { EXIT_SEVERITY, ExitCode, worstExitCode } from '../../src/model/errors.ts';

describe('worstExitCode', () => {
  it('orders a human must act, rolled back, usage, failed, busy, success', () => {
    expect(EXIT_SEVERITY).toEqual([4, 3, 2, 1, 5, 0]);
    expect(worstExitCode([])).toBe(ExitCode.ok);
    expect(worstExitCode([0, 0])).toBe(0);
    expect(worstExitCode([0, 5, 0])).toBe(5);
    expect(worstExitCode([5, 1, 0])).toBe(1);
    expect(worstExitCode([1, 3, 5])).toBe(3);
    expect(worstExitCode([3, 4, 1])).toBe(4);
    expect(worstExitCode([2, 1])).toBe(2);
  });

  it('pairs: each code beats every code after it, in either order', () => {
    for (const [i, worse] of EXIT_SEVERITY.entries())
      for (const better of EXIT_SEVERITY.slice(i + 1)) {
        expect(worstExitCode([worse, better])).toBe(worse);
        expect(worstExitCode([better, worse])).toBe(worse);
      }
  });

  it('a code it does not know ranks as a failure (1)', () => {
    expect(worstExitCode([0, 75])).toBe(75);
    expect(worstExitCode([75, 3])).toBe(3);
    expect(worstExitCode([5, 75])).toBe(75);
  });
});
