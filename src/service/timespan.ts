// Hand-written: no maintained npm library parses systemd's time spans with systemd's exact unit table.
/**
 * systemd's time spans (systemd.time(7)), read as systemd's own parse_time() reads them, so that a unit's
 * TimeoutStopSec=, RestartSec= and `systemctl show`'s TimeoutStopUSec= mean here what they mean to the manager:
 * numbers with units, with or without spaces between them (`1h 30min`, `1h30min`, `2.5s`), `infinity`, and a number
 * without a unit in seconds. Anything systemd refuses is undefined, never a part of it read.
 */

const WHITESPACE = /^[ \t\n\r]*/;
const USEC_PER_SEC = 1_000_000n;
const USEC_PER_MINUTE = 60n * USEC_PER_SEC;
const USEC_PER_HOUR = 60n * USEC_PER_MINUTE;
const USEC_PER_DAY = 24n * USEC_PER_HOUR;
/** systemd's month (30.44 days) and year (365.25 days). */
const USEC_PER_MONTH = 2_629_800n * USEC_PER_SEC;
const USEC_PER_YEAR = 31_557_600n * USEC_PER_SEC;
/** systemd keeps a span in 64 bits of microseconds, all ones meaning infinity: a span that reaches it is refused. */
const USEC_INFINITY = 2n ** 64n - 1n;
const LLONG_MAX = 2n ** 63n - 1n;

/**
 * systemd's table, in systemd's order: the first suffix the text starts with wins, which is why `ms` and `months`
 * come before `m`, and why `5secs` is `5sec` followed by a stray `s` (refused).
 */
const SUFFIXES: ReadonlyArray<readonly [string, bigint]> = [
  ['seconds', USEC_PER_SEC],
  ['second', USEC_PER_SEC],
  ['sec', USEC_PER_SEC],
  ['s', USEC_PER_SEC],
  ['minutes', USEC_PER_MINUTE],
  ['minute', USEC_PER_MINUTE],
  ['min', USEC_PER_MINUTE],
  ['months', USEC_PER_MONTH],
  ['month', USEC_PER_MONTH],
  ['M', USEC_PER_MONTH],
  ['msec', 1_000n],
  ['ms', 1_000n],
  ['m', USEC_PER_MINUTE],
  ['hours', USEC_PER_HOUR],
  ['hour', USEC_PER_HOUR],
  ['hr', USEC_PER_HOUR],
  ['h', USEC_PER_HOUR],
  ['days', USEC_PER_DAY],
  ['day', USEC_PER_DAY],
  ['d', USEC_PER_DAY],
  ['weeks', 7n * USEC_PER_DAY],
  ['week', 7n * USEC_PER_DAY],
  ['w', 7n * USEC_PER_DAY],
  ['years', USEC_PER_YEAR],
  ['year', USEC_PER_YEAR],
  ['y', USEC_PER_YEAR],
  ['usec', 1n],
  ['us', 1n],
  ['μs', 1n], // U+03BC GREEK SMALL LETTER MU
  ['µs', 1n], // U+00B5 MICRO SIGN
];

/** One number of a span: `5`, `+5`, `2.5`, `.5` (a dot always followed by digits). */
const AMOUNT = /^(?:\+?(\d+)(?:\.(\d+))?|\.(\d+))/;

/**
 * Microseconds in `whole.fraction` units, the fraction cut to whole microseconds as systemd does; undefined past
 * systemd's bounds (strtoll's, then the unit's share of infinity).
 */
function microseconds(whole: string, fraction: string, unit: bigint): bigint | undefined {
  const count = BigInt(whole);
  if (count > LLONG_MAX || count >= USEC_INFINITY / unit) return undefined;
  let usec = count * unit;
  let place = unit / 10n;
  for (const digit of fraction) {
    usec += BigInt(digit) * place;
    place /= 10n;
  }
  return usec;
}

/** Seconds in a systemd time span (`330`, `5min 30s`, `1d`, `250us`), Infinity for `infinity`; else undefined. */
export function timespanSeconds(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (/^[ \t\n\r]*infinity[ \t\n\r]*$/.test(text)) return Infinity;
  let rest = text.replace(WHITESPACE, '');
  if (rest === '') return undefined;
  let usec = 0n;
  while (rest !== '') {
    const amount = AMOUNT.exec(rest);
    if (!amount) return undefined;
    const [number, whole = '0', fraction = amount[3] ?? ''] = amount;
    const afterNumber = rest.slice(number.length);
    const unitText = afterNumber.replace(WHITESPACE, '');
    const suffix = SUFFIXES.find(([name]) => unitText.startsWith(name));
    // No unit: seconds, but only when a space or the end follows (`12.34.56` is refused, `5 6` is 11 s).
    if (!suffix && unitText === afterNumber && afterNumber !== '') return undefined;
    const part = microseconds(whole, fraction, suffix?.[1] ?? USEC_PER_SEC);
    if (part === undefined || usec + part >= USEC_INFINITY) return undefined;
    usec += part;
    rest = (suffix ? unitText.slice(suffix[0].length) : unitText).replace(WHITESPACE, '');
  }
  return Number(usec) / Number(USEC_PER_SEC);
}
