/**
 * The launchd side of `unit`: launchd has no drop-ins, so over a plist somebody else wrote (openclaw's `gateway
 * install` on macOS) the plist itself is changed, in place and only where it must: the package's path in
 * ProgramArguments (to go through `<root>/current`), the Node when one is configured, and a stop budget
 * (ExitTimeOut) that is raised, never lowered. Node options, arguments, EnvironmentVariables, KeepAlive and every
 * other key stay as they are, byte for byte. A plist we wrote ourselves is regenerated.
 */
import path from 'node:path';
import type { Config } from '../store/config.js';
import { ReleaseSwitcherError } from '../model/errors.js';
import { layoutOf } from '../store/layout.js';
import { nodeCommandOf } from './existing-unit.js';
import { type PlistEdit, type PlistNode, appendEntry, applyEdits, entryOf, parsePlist, xmlEscape } from './plist.js';
import { launchdPlist } from '../service/supervisors/launchd.js';
import { type ServiceOptions, checkEntry, stopBudget } from './unit-text.js';
import { entryInPackage } from './existing-unit.js';

/** Marks a plist as ours (after the DOCTYPE), so that a later `unit --install` regenerates it rather than merging. */
// No two hyphens in a row: XML comments cannot hold them.
export const PLIST_HEADER =
  '<!-- Written by release-switcher (its unit command): regenerate it rather than edit it. -->';
/** launchd's ExitTimeOut when a plist sets none. */
const LAUNCHD_EXIT_TIMEOUT = 20;

export interface PlistText {
  content: string;
  /** Over somebody else's plist: what it kept and what it changed. */
  kept?: string[];
  changed?: string[];
}

/** A whole plist of ours: `<node> [options] <root>/current/<entry> [args]`, KeepAlive, an ExitTimeOut of the stop budget. */
export function ourPlist(config: Config, root: string, label: string, options: ServiceOptions): string {
  const { current } = layoutOf(root);
  const program = [
    config.node ?? process.execPath,
    ...(options.nodeOptions ?? []),
    path.join(current, checkEntry(options.entry)),
    ...(options.args ?? []),
  ];
  const text = launchdPlist({
    label,
    program,
    workingDirectory: current,
    exitTimeOut: stopBudget(config, options).seconds,
  });
  return text.replace('\n<plist version="1.0">', `\n${PLIST_HEADER}\n<plist version="1.0">`);
}

export function isOurPlist(text: string): boolean {
  return text.includes(PLIST_HEADER);
}

const stringXml = (value: string) => `<string>${xmlEscape(value)}</string>`;

/**
 * Somebody else's plist, changed only where it must: `options` says what was given (args, Node options: undefined
 * keeps the plist's own). `replacement` (the entry and its defaults) is used only when its ProgramArguments do not run
 * a Node entry of the package (or `entryGiven`): then ProgramArguments is replaced as a whole.
 */
export function mergePlist(
  xml: string,
  config: Config,
  root: string,
  options: ServiceOptions,
  replacement: ServiceOptions = options,
): PlistText {
  const { current } = layoutOf(root);
  const top = parsePlist(xml);
  if (top.kind !== 'dict')
    throw new ReleaseSwitcherError('UNSUPPORTED', 'The plist is not a dict of keys.', {
      hint: 'Merge ProgramArguments into it by hand.',
    });
  const kept: string[] = [];
  const changed: string[] = [];
  const edits: PlistEdit[] = [];
  const args = entryOf(top, 'ProgramArguments');
  if (args?.kind !== 'array' || args.items!.some((i) => i.kind !== 'string')) {
    throw new ReleaseSwitcherError(
      'UNSUPPORTED',
      'The plist has no ProgramArguments list of strings (a Program key alone is not changed).',
      { hint: 'Add ProgramArguments to it, or merge by hand.' },
    );
  }
  const words = args.items!.map((i) => i.text!);
  // After a wrapper (openclaw's `/bin/sh <env-wrapper.sh> <file.env> node …`), the first `node [options] script …`.
  const at = options.entryGiven ? -1 : words.findIndex((_, i) => nodeCommandOf(words.slice(i)) !== null);
  const theirs = at < 0 ? null : nodeCommandOf(words.slice(at));
  const inPackage = theirs
    ? (entryInPackage(theirs.script, config.package) ??
      (theirs.script.startsWith(`${current}/`) ? theirs.script.slice(current.length + 1) : null))
    : null;
  if (!theirs || inPackage === null) {
    const program = [
      config.node ?? process.execPath,
      ...(replacement.nodeOptions ?? []),
      path.join(current, checkEntry(replacement.entry)),
      ...(replacement.args ?? []),
    ];
    edits.push({ start: args.start, end: args.end, text: arrayXml(xml, args, program) });
    changed.push(`ProgramArguments (${words.join(' ')}) -> ${program.join(' ')}`);
  } else {
    const node = config.node ?? theirs.node;
    const nodeOptions = options.nodeOptions ?? theirs.nodeOptions;
    const rest = options.args ?? theirs.args;
    const script = path.join(current, checkEntry(inPackage));
    const same = (a: string[], b: string[]) => a.join('\0') === b.join('\0');
    if (same(nodeOptions, theirs.nodeOptions) && same(rest, theirs.args)) {
      // Only the two words that change: the Node and the package's path.
      const scriptNode = args.items![at + 1 + theirs.nodeOptions.length]!;
      if (theirs.script !== script)
        edits.push({ start: scriptNode.start, end: scriptNode.end, text: stringXml(script) });
      if (node !== theirs.node)
        edits.push({ start: args.items![at]!.start, end: args.items![at]!.end, text: stringXml(node) });
    } else {
      edits.push({
        start: args.start,
        end: args.end,
        text: arrayXml(xml, args, [...words.slice(0, at), node, ...nodeOptions, script, ...rest]),
      });
    }
    if (theirs.script !== script) changed.push(`ProgramArguments: ${theirs.script} -> ${script}`);
    if (node !== theirs.node) changed.push(`Node: ${theirs.node} -> ${node} (the configured --node)`);
    if (at > 0) kept.push(`wrapper: ${words.slice(0, at).join(' ')}`);
    (same(nodeOptions, theirs.nodeOptions) ? kept : changed).push(`Node options: ${nodeOptions.join(' ') || '(none)'}`);
    (same(rest, theirs.args) ? kept : changed).push(`arguments: ${rest.join(' ') || '(none)'}`);
    // A working directory inside the adopted package would pin the old copy; anywhere else (openclaw: its state dir) it stays.
    const dir = entryOf(top, 'WorkingDirectory');
    const pkgDir = theirs.script.slice(0, theirs.script.length - inPackage.length).replace(/\/$/, '');
    if (
      dir?.kind === 'string' &&
      (dir.text === pkgDir || dir.text!.startsWith(`${pkgDir}/`)) &&
      dir.text !== current &&
      !dir.text!.startsWith(`${current}/`)
    ) {
      const moved = path.join(current, path.relative(pkgDir, dir.text!));
      edits.push({ start: dir.start, end: dir.end, text: stringXml(moved) });
      changed.push(`WorkingDirectory: ${dir.text} -> ${moved}`);
    } else if (dir?.kind === 'string') kept.push(`WorkingDirectory=${dir.text}`);
  }
  stopAndRestart(xml, top, config, options, { edits, kept, changed });
  const env = entryOf(top, 'EnvironmentVariables');
  if (env?.kind === 'dict' && env.entries!.length > 0)
    kept.push(`EnvironmentVariables: ${env.entries!.map((e) => e.key).join(', ')}`);
  return { content: applyEdits(xml, edits), kept, changed };
}

/** ExitTimeOut at least the stop budget (never lowered); KeepAlive as the plist has it, `true` when it has none. */
function stopAndRestart(
  xml: string,
  top: PlistNode,
  config: Config,
  options: ServiceOptions,
  out: { edits: PlistEdit[]; kept: string[]; changed: string[] },
): void {
  const budget = stopBudget(config, options);
  const exit = entryOf(top, 'ExitTimeOut');
  const theirs = exit && (exit.kind === 'integer' || exit.kind === 'real') ? Number(exit.text) : undefined;
  const effective = theirs ?? LAUNCHD_EXIT_TIMEOUT;
  if (effective >= budget.seconds)
    out.kept.push(
      `ExitTimeOut=${effective}${theirs === undefined ? ' (launchd default)' : ''} (at least ${budget.seconds} s: ${budget.why})`,
    );
  else {
    const value = `<integer>${budget.seconds}</integer>`;
    out.edits.push(
      exit ? { start: exit.start, end: exit.end, text: value } : appendEntry(xml, top, 'ExitTimeOut', value),
    );
    out.changed.push(
      `ExitTimeOut ${effective} s${theirs === undefined ? ' (launchd default)' : ''} -> ${budget.seconds} s (${budget.why})`,
    );
  }
  const keepAlive = entryOf(top, 'KeepAlive');
  if (keepAlive)
    out.kept.push(
      `KeepAlive ${keepAlive.kind === 'dict' ? `{${keepAlive.entries!.map((e) => e.key).join(', ')}}` : keepAlive.kind}`,
    );
  else {
    out.edits.push(appendEntry(xml, top, 'KeepAlive', '<true/>'));
    out.changed.push('KeepAlive -> true (restart whenever it exits)');
  }
}

/** A new `<array>` of strings, indented as the old one's items were. */
function arrayXml(xml: string, array: PlistNode, words: string[]): string {
  const first = array.items![0];
  const lineStart = (at: number) => xml.lastIndexOf('\n', at) + 1;
  const itemIndent = first ? /^[ \t]*/.exec(xml.slice(lineStart(first.start), first.start))![0] : '';
  const closeAt = array.end - '</array>'.length;
  const closeIndent = /^[ \t]*$/.test(xml.slice(lineStart(closeAt), closeAt))
    ? xml.slice(lineStart(closeAt), closeAt)
    : '';
  return `<array>${words.map((w) => `\n${itemIndent}${stringXml(w)}`).join('')}\n${closeIndent}</array>`;
}
