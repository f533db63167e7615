#!/usr/bin/env node
// The house rule, checked from the code: src/ is folders in layers, and a module imports only from its
// own folder or from layers below it; no import circles. `--tree` prints the folders with line counts.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');
/** Top to bottom. A folder may import from any folder listed after it, never before it. */
export const LAYERS = [
  ['index.ts', 'internals.ts'],
  ['cli'],
  ['gateway', 'autoupdate'],
  ['verbs'],
  ['doctor'],
  ['transaction'],
  ['unit-files'],
  // A preset says what its service is and does (types.ts); the layers above ask it through presets/index.ts.
  ['presets'],
  ['stage', 'rehearsal'],
  ['registry', 'service', 'snapshot', 'tool'],
  ['store'],
  ['platform'],
  ['model'],
];
const rankOf = (folder) => LAYERS.findIndex((layer) => layer.includes(folder));
/**
 * Rooms inside a folder, top to bottom, by the same rule: the folder's own files ('.') use its rooms, a room uses
 * the rooms after it, never its folder's own files or a room before it.
 */
export const ROOMS = {
  stage: [['.'], ['reuse'], ['scripts'], ['resolve'], ['unpack']],
};
const roomOf = (file) => {
  const [, room, ...rest] = path.relative(SRC, file).split(path.sep);
  return rest.length > 0 ? room : '.';
};
const roomRankOf = (folder, room) => ROOMS[folder].findIndex((layer) => layer.includes(room));

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? walk(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

export function importsOf(file) {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/g),
    ...text.matchAll(/import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g),
  ];
  return specs.map((m) => path.resolve(path.dirname(file), m[1]).replace(/\.js$/, '.ts'));
}

const folderOf = (file) => path.relative(SRC, file).split(path.sep)[0];
const files = walk(SRC).filter((f) => !f.endsWith('.d.ts'));
const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => fs.existsSync(t))]));

export const problems = [];
for (const [file, targets] of graph) {
  const from = folderOf(file);
  if (rankOf(from) < 0) problems.push(`${path.relative(SRC, file)}: folder "${from}" is in no layer`);
  for (const target of targets) {
    const to = folderOf(target);
    if (from === 'verbs' && to === 'verbs')
      problems.push(
        `${path.relative(SRC, file)} imports ${path.relative(SRC, target)}: a verb never imports another verb`,
      );
    if (from === to && ROOMS[from]) {
      const [mine, theirs] = [roomOf(file), roomOf(target)];
      if (roomRankOf(from, mine) < 0)
        problems.push(`${path.relative(SRC, file)}: room "${mine}" of ${from} is in no layer`);
      else if (mine !== theirs && roomRankOf(from, theirs) <= roomRankOf(from, mine))
        problems.push(
          `${path.relative(SRC, file)} imports ${path.relative(SRC, target)}: ${from}/${mine} may not import ${from}/${theirs} (${from}/. is its own files)`,
        );
    }
    if (to !== from && rankOf(to) <= rankOf(from))
      problems.push(`${path.relative(SRC, file)} imports ${path.relative(SRC, target)}: ${from} may not import ${to}`);
  }
}
// One writer of the record, by types: model/state.ts declares transactions, their steps, release records, operations
// and the journal's state read-only, and transaction/record.ts alone holds a writable view of them, so
// `npm run typecheck` refuses a write anywhere else (test/transaction/record-owner.test-d.ts proves it). What the
// types let through is checked here: a step written by index or the steps' length (a transaction's `steps` stays
// `Step[]` in the public type, whose index signature TypeScript cannot make read-only there), and Object.assign onto a
// record (its target is not checked for `readonly`), and the journal's archiving of the closed transaction (a method
// the journal must offer its one caller, record.ts).
const RECORD_OWNER = path.join('transaction', 'record.ts');
export const RECORD_WRITES = [
  /\.steps(\[[^\]]*\]|\.length)\s*(\+|-)?=(?![=>])/,
  /\bObject\.assign\(\s*(tx|step|record|release|transaction|journal\.state|state|run\.tx)\b/,
  /\.archiveTransaction\(/,
];
export function recordWritesIn(text) {
  return text
    .split('\n')
    .map((line, index) => ({ line, number: index + 1 }))
    .filter(({ line }) => !/^\s*(\/\/|\*|\/\*)/.test(line) && RECORD_WRITES.some((pattern) => pattern.test(line)));
}
for (const file of files) {
  if (path.relative(SRC, file) === RECORD_OWNER) continue;
  for (const { line, number } of recordWritesIn(fs.readFileSync(file, 'utf8')))
    problems.push(
      `${path.relative(SRC, file)}:${number}: writes the record (${line.trim()}); ask transaction/record.ts instead`,
    );
}

// A preset is reached through presets/index.ts and the fields of presets/types.ts only: no code outside a preset's own
// folder imports from it (the list in presets/index.ts excepted), so the core names no preset's command, file or
// protocol, and a preset is added or removed without touching it.
export const PRESET_LIST = 'presets/index.ts';
/** Why `from` may not import `to` (paths relative to src/, with `/`), or undefined when it may. */
export function presetReach(from, to) {
  const folderOf = (file) => {
    const [top, name, ...rest] = file.split('/');
    return top === 'presets' && rest.length > 0 ? name : undefined;
  };
  const preset = folderOf(to);
  if (preset === undefined || from === PRESET_LIST || folderOf(from) === preset) return undefined;
  return `${from} imports ${to}: a preset's folder is reached through presets/index.ts and the fields of presets/types.ts`;
}
const posix = (file) => path.relative(SRC, file).split(path.sep).join('/');
for (const [file, targets] of graph)
  for (const target of targets) {
    const problem = presetReach(posix(file), posix(target));
    if (problem) problems.push(problem);
  }

// One way to start a process: platform/subprocess.ts (process groups, timeouts, the caller's AbortSignal).
export const startsProcesses = (text) =>
  /(from\s*|import\(\s*|require\(\s*)['"](node:)?child_process['"]|(from\s*|import\(\s*)['"]execa['"]/.test(text);
const SUBPROCESS_OWNER = path.join('platform', 'subprocess.ts');
for (const file of files) {
  if (path.relative(SRC, file) === SUBPROCESS_OWNER) continue;
  if (
    /(from\s*|import\(\s*)['"](node:)?child_process['"]|(from\s*|import\(\s*)['"]execa['"]/.test(
      fs.readFileSync(file, 'utf8'),
    )
  )
    problems.push(
      `${path.relative(SRC, file)}: starts processes itself; use platform/subprocess.ts (run, runCaptured)`,
    );
}

// Circles: a depth-first search over the module graph.
const seen = new Map();
const stack = [];
function visit(file) {
  seen.set(file, 'open');
  stack.push(file);
  for (const target of graph.get(file) ?? []) {
    if (seen.get(target) === 'open')
      problems.push(
        `import circle: ${[...stack.slice(stack.indexOf(target)), target].map((f) => path.relative(SRC, f)).join(' -> ')}`,
      );
    else if (!seen.has(target)) visit(target);
  }
  stack.pop();
  seen.set(file, 'done');
}
for (const file of files) if (!seen.has(file)) visit(file);

// Reported when run as a script (npm run lint); a test imports the rules above without the report.
const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) report();

function report() {
  if (process.argv.includes('--tree')) {
    const lines = (f) => fs.readFileSync(f, 'utf8').split('\n').length - 1;
    for (const layer of LAYERS) {
      for (const folder of layer) {
        const inside = files.filter((f) => folderOf(f) === folder);
        const total = inside.reduce((sum, f) => sum + lines(f), 0);
        console.log(
          `${folder.padEnd(12)} ${String(inside.length).padStart(3)} files ${String(total).padStart(6)} lines`,
        );
        if (process.argv.includes('--files'))
          for (const f of inside) console.log(`  ${path.relative(SRC, f).padEnd(40)} ${lines(f)}`);
      }
    }
  }
  if (problems.length > 0) {
    console.error(problems.join('\n'));
    console.error(`${problems.length} layering problem(s)`);
    process.exitCode = 1;
  } else {
    console.log(`layers ok: ${files.length} modules, imports point one way, no circles`);
  }
}
