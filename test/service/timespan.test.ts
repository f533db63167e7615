// systemd's time spans (systemd.time(7)) as the manager reads them: every unit of its table, with or without spaces,
// infinity, a bare number in seconds; what systemd refuses is undefined, never a part of it. Every case here reads the
// same in `systemd-analyze timespan`.
import { describe, expect, it } from 'vitest';
import { timespanSeconds } from '../../src/service/timespan.ts';

const READ: Array<[text: string, seconds: number]> = [
  // The table, each unit under all its names.
  ['250us', 0.00025],
  ['250usec', 0.00025],
  ['250µs', 0.00025], // MICRO SIGN
  ['250μs', 0.00025], // GREEK SMALL LETTER MU
  ['500ms', 0.5],
  ['500msec', 0.5],
  ['3s', 3],
  ['3sec', 3],
  ['3second', 3],
  ['3seconds', 3],
  ['2m', 120],
  ['2min', 120],
  ['2minute', 120],
  ['2minutes', 120],
  ['1h', 3600],
  ['1hr', 3600],
  ['1hour', 3600],
  ['1hours', 3600],
  ['1d', 86_400],
  ['2day', 172_800],
  ['2days', 172_800],
  ['1w', 604_800],
  ['1week', 604_800],
  ['2weeks', 1_209_600],
  ['1M', 2_629_800], // 30.44 days
  ['1month', 2_629_800],
  ['2months', 5_259_600],
  ['1y', 31_557_600], // 365.25 days
  ['1year', 31_557_600],
  ['2years', 63_115_200],
  // Combined, with or without spaces, and fractions.
  ['2min 3s', 123],
  ['1h30min', 5400],
  ['1h 30min', 5400],
  ['1.5h', 5400],
  ['2.5s', 2.5],
  ['5 min', 300],
  [' 1w 2d ', 777_600],
  // infinity, and a number without a unit: seconds.
  ['infinity', Infinity],
  ['330', 330],
  ['0', 0],
  // What `systemctl show` prints for TimeoutStopUSec= and the like.
  ['1min 30s', 90],
  ['5min 30s', 330],
  ['1.500000s', 1.5],
  ['1month 2w 3d', 4_098_600],
  // systemd's own reading where it surprises: more seconds after a space, a fraction starting a part, a sign.
  ['5 6', 11],
  ['12.34s.56', 12.9],
  ['.5s', 0.5],
  ['+5s', 5],
  // A fraction is cut to whole microseconds.
  ['1.9999999us', 0.000001],
];

const REFUSED = [
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
];

describe('systemd time spans', () => {
  it.each(READ)('%j is %d s', (text, seconds) => {
    expect(timespanSeconds(text)).toBe(seconds);
  });

  it.each(REFUSED)('%j is refused: undefined', (text) => {
    expect(timespanSeconds(text)).toBeUndefined();
  });

  it('no setting at all is undefined too', () => {
    expect(timespanSeconds(undefined)).toBeUndefined();
  });
});
