/**
 * Reading a unit somebody else wrote (openclaw's `gateway install`, a distro package, a hand-written one), so
 * that `unit --install` and `init --adopt` keep how it runs: its Node options, its arguments (the port), its
 * environment and its own timeouts. Only the unit's own files are read: our drop-in is skipped, so running
 * `unit --install` again sees the same unit as the first time.
 */
import path from 'node:path';
import { type SystemctlOptions, systemctl } from '../service/systemctl.js';

export interface ExistingUnit {
  /** The words of the last ExecStart= (an empty assignment resets it), or null when there is none. */
  execStart: string[] | null;
  /** Environment= of the unit, later assignments winning. */
  environment: Record<string, string>;
  /** EnvironmentFile= paths in order (a leading `-`: the file may be missing); their values override Environment=. */
  environmentFiles?: string[];
  /** The last value of every other [Service] key, as written (e.g. TimeoutStopSec: '330'). */
  service: Record<string, string>;
  /** The files it came from, in systemd's order. */
  files: string[];
}

/** Words of an Exec line or an Environment= value: quotes, C escapes, `%%` and `$$` undone (systemd.syntax). */
export function splitUnitWords(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === null && /\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
      continue;
    }
    word ??= '';
    if (c === quote) quote = null;
    else if (quote === null && (c === '"' || c === "'")) quote = c;
    else if (c === '\\' && i + 1 < line.length) {
      const next = line[++i]!;
      if (next === 'x') {
        word += String.fromCharCode(parseInt(line.slice(i + 1, i + 3), 16));
        i += 2;
      } else word += ({ n: '\n', t: '\t' } as Record<string, string>)[next] ?? next;
    } else if ((c === '%' || c === '$') && line[i + 1] === c) {
      word += c;
      i++;
    } else word += c;
  }
  if (word !== null) words.push(word);
  return words;
}

/**
 * The lines of one unit file as systemd reads them (systemd.syntax(7), config_parse()): a line ending in an unescaped
 * `\` continues on the next, the backslash becoming a space; comment lines (`#`, `;`) are dropped even inside a
 * continued line, and a blank line ends one. Lines come trimmed, without blank ones.
 */
function unitFileLines(text: string): string[] {
  const lines: string[] = [];
  let continued: string | undefined;
  for (const raw of text.split(/\r\n|\r|\n/)) {
    if (/^\s*[#;]/.test(raw)) continue;
    const line = (continued ?? '') + raw;
    continued = /(^|[^\\])(\\\\)*\\$/.test(line) ? `${line.slice(0, -1)} ` : undefined;
    if (continued === undefined && line.trim() !== '') lines.push(line.trim());
  }
  // A file that ends in a continuation: systemd reads what it has.
  if (continued?.trim()) lines.push(continued.trim());
  return lines;
}

/** The [Service] settings of one file's lines into `unit`, later assignments winning as they do for systemd. */
function readServiceSettings(unit: ExistingUnit, lines: string[]): void {
  let section = '';
  for (const line of lines) {
    if (/^\[.+\]$/.test(line)) {
      section = line;
      continue;
    }
    const eq = line.indexOf('=');
    if (section !== '[Service]' || eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === 'ExecStart') unit.execStart = value === '' ? null : splitUnitWords(value.replace(/^[-@:+!]+/, ''));
    else if (key === 'Environment') {
      if (value === '') unit.environment = {};
      for (const word of splitUnitWords(value))
        if (word.includes('=')) unit.environment[word.slice(0, word.indexOf('='))] = word.slice(word.indexOf('=') + 1);
    } else if (key === 'EnvironmentFile') {
      // An empty assignment resets the list; otherwise each one adds a file (systemd.exec).
      if (value === '') unit.environmentFiles = [];
      else unit.environmentFiles!.push(value.replaceAll('%%', '%'));
    } else unit.service[key] = value;
  }
}

/** Text as `systemctl cat` prints it: `# /path/of/file` before each file. `skip` drops whole files. */
export function parseUnitText(text: string, skip: (file: string) => boolean = () => false): ExistingUnit {
  const unit: ExistingUnit = { execStart: null, environment: {}, environmentFiles: [], service: {}, files: [] };
  // Split at the headers first: systemd reads each file on its own, so no continued line runs into the next file.
  const parts = text.split(/^[ \t]*# (\/\S+)[ \t]*$/m);
  for (let i = 0; i < parts.length; i += 2) {
    const file = parts[i - 1]; // none before the first header
    if (file !== undefined && skip(file)) continue;
    if (file !== undefined) unit.files.push(file);
    readServiceSettings(unit, unitFileLines(parts[i]!));
  }
  return unit;
}

/** The port a gateway unit runs on: `--port N` / `--port=N` in its arguments, else `<NAME>_PORT`-style environment. */
export function portOfUnit(
  unit: ExistingUnit,
  envNames: readonly string[] = ['OPENCLAW_GATEWAY_PORT', 'PORT'],
): { port: number; from: string } | undefined {
  const words = unit.execStart ?? [];
  for (let i = 0; i < words.length; i++) {
    const value =
      words[i] === '--port' ? words[i + 1] : words[i]!.startsWith('--port=') ? words[i]!.slice(7) : undefined;
    if (value !== undefined && /^\d+$/.test(value))
      return { port: Number(value), from: `ExecStart ${words[i] === '--port' ? `--port ${value}` : words[i]}` };
  }
  for (const name of envNames) {
    const value = unit.environment[name];
    if (value !== undefined && /^\d+$/.test(value))
      return { port: Number(value), from: `Environment=${name}=${value}` };
  }
  return undefined;
}

/** How an ExecStart runs a Node entry: the Node, its options, the entry script and what follows it. */
export interface NodeCommand {
  node: string;
  nodeOptions: string[];
  script: string;
  args: string[];
}

/** Node options that take their value as the next word. */
const SPLIT_OPTIONS = new Set([
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '--env-file',
  '--conditions',
  '-C',
  '--title',
  '--inspect-port',
]);

/** The path of `script` inside the installed package `pkg` (after its last `/node_modules/<pkg>/`), or null. */
export function entryInPackage(script: string, pkg: string): string | null {
  const marker = `/node_modules/${pkg}/`;
  const at = script.lastIndexOf(marker);
  return at >= 0 ? script.slice(at + marker.length) : null;
}

/**
 * The file of the package that `script` names, and the package folder it is in: inside `node_modules/<pkg>/` (an
 * install), or, given the root, inside its `current` or a `releases/<version>` (a unit that already runs the root's
 * release, as the operator guide's `node <root>/current/server.js`). `entry` is empty when the script is the package
 * folder itself (Node then runs its `main`). Null: neither.
 */
export function packageFileOf(
  script: string,
  where: { pkg: string; root?: string | undefined },
): { entry: string; pkgDir: string } | null {
  const inPackage = entryInPackage(script, where.pkg);
  if (inPackage !== null) return { entry: inPackage, pkgDir: script.slice(0, script.length - inPackage.length - 1) };
  if (!where.root || !path.isAbsolute(script)) return null;
  const root = path.resolve(where.root);
  const rest = path.relative(root, path.resolve(script)).split(path.sep);
  const take = rest[0] === 'current' ? 1 : rest[0] === 'releases' && rest.length > 1 && rest[1] !== '' ? 2 : 0;
  if (take === 0) return null;
  return { entry: rest.slice(take).join('/'), pkgDir: path.join(root, ...rest.slice(0, take)) };
}

/** Null when the command is not `node [options] script [args]` (a bin wrapper, another program). */
export function nodeCommandOf(words: readonly string[] | null): NodeCommand | null {
  if (!words || words.length < 2 || !/^node(js)?(\d+)?$/.test(path.basename(words[0]!))) return null;
  let i = 1;
  while (i < words.length && words[i]!.startsWith('-')) i += SPLIT_OPTIONS.has(words[i]!) ? 2 : 1;
  if (i >= words.length) return null;
  return { node: words[0]!, nodeOptions: words.slice(1, i), script: words[i]!, args: words.slice(i + 1) };
}

/** The unit's own files as its manager loads them, without the files `skip` names; undefined when it has none or cannot be asked. */
export async function readExistingUnit(
  name: string,
  options: Pick<SystemctlOptions, 'scope' | 'env' | 'runner'> & { skip?: (file: string) => boolean },
): Promise<ExistingUnit | undefined> {
  const cat = await systemctl(['cat', name], options).catch(() => undefined);
  if (cat?.exitCode !== 0) return undefined;
  const unit = parseUnitText(cat.output, options.skip);
  return unit.files.length > 0 ? unit : undefined;
}
