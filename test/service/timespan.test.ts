// systemd's time spans (systemd.time(7)) as the manager reads them: every unit of its table, with or without spaces,
// infinity, a bare number in seconds; what systemd refuses is undefined, never a part of it.
import { describe, expect, it } from 'vitest';
import { timespanSeconds } from '../../src/service/timespan.ts';

describe('systemd time spans', () => {
  it('reads every unit of the table', () => {
    expect(
      [
        '250us',
        '250usec',
        '250µs',
        '250μs',
        '500ms',
        '500msec',
        '1d',
        '2days',
        '1w',
        '1week',
        '1M',
        '1y',
        '1years',
      ].map(timespanSeconds),
    ).toEqual([
      0.00025, 0.00025, 0.00025, 0.00025, 0.5, 0.5, 86_400, 172_800, 604_800, 604_800, 2_629_800, 31_557_600,
      31_557_600,
    ]);
    expect(
      ['3s', '3sec', '3second', '3seconds', '2m', '2min', '2minutes', '1h', '1hr', '1hours'].map(timespanSeconds),
    ).toEqual([3, 3, 3, 3, 120, 120, 120, 3600, 3600, 3600]);
  });

  it('adds up combined forms, with or without spaces, and fractions', () => {
    expect(timespanSeconds('2min 3s')).toBe(123);
    expect(timespanSeconds('1h30min')).toBe(5400);
    expect(timespanSeconds('1h 30min')).toBe(5400);
    expect(timespanSeconds('1.5h')).toBe(5400);
    expect(timespanSeconds('2.5s')).toBe(2.5);
    expect(timespanSeconds('5 min')).toBe(300);
    expect(timespanSeconds(' 1w 2d ')).toBe(777_600);
  });

  it('reads infinity, a bare number as seconds, and what systemctl show prints', () => {
    expect(timespanSeconds('infinity')).toBe(Infinity);
    expect(timespanSeconds('330')).toBe(330);
    expect(timespanSeconds('0')).toBe(0);
    expect(['1min 30s', '5min 30s', '1.500000s', '1month 2w 3d'].map(timespanSeconds)).toEqual([
      90,
      330,
      1.5,
      2_629_800 + 1_209_600 + 259_200,
    ]);
  });

  it("follows systemd's own reading where it is surprising (`systemd-analyze timespan` agrees)", () => {
    expect(timespanSeconds('.5s')).toBe(0.5);
    expect(timespanSeconds('+5s')).toBe(5);
    // A number after a space and no unit is more seconds; `12.34s.56` is 12.34 s + .56 s.
    expect(timespanSeconds('5 6')).toBe(11);
    expect(timespanSeconds('12.34s.56')).toBe(12.9);
    // Fractions are cut to whole microseconds.
    expect(timespanSeconds('1.9999999us')).toBe(0.000001);
  });

  it('is undefined for anything systemd refuses, never a part of it', () => {
    for (const bad of [
      '5 parsecs',
      's',
      '-1s',
      '1d x',
      '',
      '  ',
      '5secs', // `5sec` and a stray `s`
      '3.',
      '3.sec',
      '+.5s',
      '12.34.56',
      '1e3',
      'infinity 5s',
      'infinityx',
      'soon',
      '584542y', // past systemd's 64 bits of microseconds
    ])
      expect(timespanSeconds(bad), bad).toBeUndefined();
    expect(timespanSeconds(undefined)).toBeUndefined();
  });
});
