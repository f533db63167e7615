#!/usr/bin/env node
// Writes test/durations.json, the measured time of each test file that the suite's sequencer starts the longest
// files by (test/support/sequencer.ts: CI runs from a fresh clone, without vitest's cache of earlier runs).
// Usage: npm run test:durations -- <report> ...   (each a run's output or vitest JSON report; see docs/testing.md)
// - A run's output (vitest's default reporter, as CI prints it): a file's line `✓ <project> <file> (N tests) <ms>ms`
//   carries its whole time, its hooks included (a real-gateway file's beforeAll prepares its gateway: 200-600 s).
// - A JSON report (`--reporter=json`): vitest gives each file the span of its tests only, without its hooks, so the
//   output is preferred where both name a file.
// A file measured in several runs (CI's Node passes, runs at other loads) keeps its longest time: a file taken for
// shorter than it is starts late and becomes the tail, which is what the order is for. Files renamed since the run
// (a tier's suffix added: `x.test.ts` reported by the registry project is now `x.registry.test.ts`) are followed;
// files that no longer exist are dropped. The table is rewritten whole, sorted by file.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const OUT = path.join(ROOT, 'test', 'durations.json');
const SUFFIX = {
  unit: '.test.ts',
  registry: '.registry.test.ts',
  system: '.system.test.ts',
  openclaw: '.openclaw.test.ts',
};

const current = new Set(
  readdirSync(path.join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
    .map((file) => `test/${file.split(path.sep).join('/')}`)
    .filter((file) => file.endsWith('.test.ts')),
);

/** The file of today's tree a reported path names (absolute or relative, from any checkout), or undefined. */
export function currentName(reported, project, files = current) {
  const at = reported.lastIndexOf('/test/');
  const name = reported.startsWith('test/') ? reported : at >= 0 ? reported.slice(at + 1) : reported;
  const stem = name.replace(/(\.(registry|system|openclaw))?\.test\.ts$/, '');
  // The project says the tier, so an old name is followed to its renamed file rather than to a new file of that name.
  const wanted = project && SUFFIX[project] ? `${stem}${SUFFIX[project]}` : name;
  if (files.has(wanted)) return wanted;
  if (!project && files.has(name)) return name;
  const renamed = Object.values(SUFFIX)
    .map((suffix) => `${stem}${suffix}`)
    .filter((file) => files.has(file));
  return renamed.length === 1 ? renamed[0] : undefined;
}

/** Seconds by reported file: from a run's output (whole file times) or from a JSON report (the span of its tests). */
export function measure(text) {
  const whole = new Map();
  const testsOnly = new Map();
  const plain = text.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '');
  if (plain.trimStart().startsWith('{')) {
    for (const result of JSON.parse(plain).testResults ?? []) {
      const span = (result.endTime - result.startTime) / 1000;
      if (span > 0) testsOnly.set(currentName(result.name), span);
    }
  } else {
    for (const m of plain.matchAll(/^\s*[✓×❯]\s+(\w+)\s+(\S+\.test\.ts)\s+\([^)]*\)\s+(\d+)ms\s*$/gm)) {
      whole.set(currentName(m[2], m[1]), Number(m[3]) / 1000);
    }
  }
  whole.delete(undefined);
  testsOnly.delete(undefined);
  return { whole, testsOnly };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const inputs = process.argv.slice(2);
  if (inputs.length === 0) {
    console.error('usage: npm run test:durations -- <run output or vitest JSON report> ...');
    process.exit(2);
  }
  const whole = new Map();
  const testsOnly = new Map();
  const longest = (into, from) => {
    for (const [file, s] of from) into.set(file, Math.max(into.get(file) ?? 0, s));
  };
  for (const input of inputs) {
    const measured = measure(readFileSync(input, 'utf8'));
    longest(whole, measured.whole);
    longest(testsOnly, measured.testsOnly);
    console.error(`${input}: ${measured.whole.size} whole file times, ${measured.testsOnly.size} test spans`);
  }
  const seconds = {};
  for (const file of [...new Set([...whole.keys(), ...testsOnly.keys()])].sort()) {
    seconds[file] = Math.max(1, Math.round(whole.get(file) ?? testsOnly.get(file)));
  }
  const table = {
    about:
      "Seconds each test file took, hooks included where the run's output said (npm run test:durations); the longest are started first (test/support/sequencer.ts).",
    seconds,
  };
  writeFileSync(OUT, `${JSON.stringify(table, null, 2)}\n`);
  console.error(`${path.relative(ROOT, OUT)}: ${Object.keys(seconds).length} files`);
}
