/**
 * A small reader for XML property lists (the format launchd reads and `plutil -convert xml1` writes) that keeps where
 * each value sits in the text, so that a plist somebody else wrote can be changed in place: only the values we edit
 * change, every other byte (keys we do not know, comments, indentation) stays as it was.
 */
import { ReleaseSwitcherError } from '../model/errors.js';

export type PlistKind = 'dict' | 'array' | 'string' | 'integer' | 'real' | 'true' | 'false' | 'date' | 'data';

export interface PlistNode {
  kind: PlistKind;
  /** Offsets in the text: from the `<` of the opening tag to just after the closing one. */
  start: number;
  end: number;
  /** Character data (entities decoded) of a string, integer, real, date or data. */
  text?: string;
  items?: PlistNode[];
  entries?: Array<{ key: string; keyStart: number; value: PlistNode }>;
}

export type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue };

const LEAF = new Set(['string', 'integer', 'real', 'date', 'data']);

function bad(why: string, at: number): ReleaseSwitcherError {
  return new ReleaseSwitcherError('UNSUPPORTED', `Cannot read the plist: ${why} (at character ${at}).`, {
    hint: 'Check it with: plutil -lint FILE (convert a binary plist with: plutil -convert xml1 FILE), or merge ProgramArguments by hand.',
  });
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(text: string, at: number): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (whole, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(parseInt(name.slice(1), 10));
    const value = ENTITIES[name];
    if (value === undefined) throw bad(`unknown entity ${whole}`, at);
    return value;
  });
}

/** The root value of an XML plist (normally a dict), with the place of every value in `xml`. */
export function parsePlist(xml: string): PlistNode {
  let i = 0;
  const skip = () => {
    for (;;) {
      while (i < xml.length && /\s/.test(xml[i]!)) i++;
      const close = xml.startsWith('<?', i)
        ? '?>'
        : xml.startsWith('<!--', i)
          ? '-->'
          : xml.startsWith('<!', i)
            ? '>'
            : null;
      if (close === null) return;
      const end = xml.indexOf(close, i);
      if (end < 0) throw bad('an unclosed declaration or comment', i);
      i = end + close.length;
    }
  };
  const tag = (): { name: string; closing: boolean; empty: boolean; start: number } => {
    skip();
    const start = i;
    const match = /^<(\/?)([A-Za-z][\w.-]*)(\s[^>]*?)?\s*(\/?)>/.exec(xml.slice(i, i + 200));
    if (!match) throw bad('expected a tag', i);
    i += match[0].length;
    return { name: match[2]!, closing: match[1] === '/', empty: match[4] === '/', start };
  };
  const value = (open: { name: string; empty: boolean; start: number }): PlistNode => {
    const { name, start } = open;
    if (name === 'true' || name === 'false') {
      if (!open.empty) expectClose(name);
      return { kind: name, start, end: i };
    }
    if (LEAF.has(name)) {
      if (open.empty) return { kind: name as PlistKind, start, end: i, text: '' };
      const close = xml.indexOf(`</${name}>`, i);
      if (close < 0) throw bad(`<${name}> is not closed`, start);
      const raw = xml.slice(i, close);
      if (raw.includes('<')) throw bad(`markup inside <${name}>`, i);
      i = close + name.length + 3;
      return { kind: name as PlistKind, start, end: i, text: decode(raw, start) };
    }
    if (name === 'array') {
      const items: PlistNode[] = [];
      if (!open.empty) {
        for (let next = tag(); !(next.closing && next.name === 'array'); next = tag()) {
          if (next.closing) throw bad(`</${next.name}> inside an array`, next.start);
          items.push(value(next));
        }
      }
      return { kind: 'array', start, end: i, items };
    }
    if (name === 'dict') {
      const entries: NonNullable<PlistNode['entries']> = [];
      if (!open.empty) {
        for (let next = tag(); !(next.closing && next.name === 'dict'); next = tag()) {
          if (next.name !== 'key' || next.closing)
            throw bad(`expected <key> in a dict, found <${next.closing ? '/' : ''}${next.name}>`, next.start);
          const close = xml.indexOf('</key>', i);
          if (close < 0) throw bad('<key> is not closed', next.start);
          const key = decode(xml.slice(i, close), next.start);
          i = close + 6;
          const inner = tag();
          if (inner.closing) throw bad(`the key ${key} has no value`, inner.start);
          entries.push({ key, keyStart: next.start, value: value(inner) });
        }
      }
      return { kind: 'dict', start, end: i, entries };
    }
    throw bad(`unknown element <${name}>`, start);
  };
  const expectClose = (name: string) => {
    const next = tag();
    if (!next.closing || next.name !== name) throw bad(`expected </${name}>`, next.start);
  };
  const plist = tag();
  if (plist.name !== 'plist' || plist.closing || plist.empty) throw bad('the document is not a <plist>', plist.start);
  const root = value(tag());
  expectClose('plist');
  skip();
  if (i < xml.length) throw bad('text after </plist>', i);
  return root;
}

/** The JavaScript value of a node (integers and reals as numbers, dates and data as their text). */
export function plistValue(node: PlistNode): PlistValue {
  switch (node.kind) {
    case 'dict':
      return Object.fromEntries(node.entries!.map((e) => [e.key, plistValue(e.value)]));
    case 'array':
      return node.items!.map(plistValue);
    case 'true':
      return true;
    case 'false':
      return false;
    case 'integer':
    case 'real':
      return Number(node.text);
    default:
      return node.text!;
  }
}

export function entryOf(dict: PlistNode, key: string): PlistNode | undefined {
  return dict.entries?.find((e) => e.key === key)?.value;
}

export interface PlistEdit {
  start: number;
  end: number;
  text: string;
}

/** The text with each edit's range replaced (ranges must not overlap; insertions at one place keep their order). */
export function applyEdits(xml: string, edits: readonly PlistEdit[]): string {
  let out = xml;
  const order = edits
    .map((edit, index) => ({ edit, index }))
    .sort((a, b) => b.edit.start - a.edit.start || b.index - a.index);
  for (const { edit } of order) out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  return out;
}

/** An edit that adds `<key>NAME</key>` and a value after the last entry of a dict, indented as that entry is. */
export function appendEntry(xml: string, dict: PlistNode, key: string, valueXml: string): PlistEdit {
  const last = dict.entries?.at(-1);
  if (!last)
    return {
      start: dict.end - '</dict>'.length,
      end: dict.end - '</dict>'.length,
      text: `<key>${xmlEscape(key)}</key>${valueXml}`,
    };
  const lineStart = xml.lastIndexOf('\n', last.keyStart) + 1;
  const indent = /^[ \t]*/.exec(xml.slice(lineStart, last.keyStart))![0];
  return {
    start: last.value.end,
    end: last.value.end,
    text: `\n${indent}<key>${xmlEscape(key)}</key>\n${indent}${valueXml}`,
  };
}

/** XML character data. XML 1.0 has no way to write most C0 controls, even escaped: refuse them. */
export function xmlEscape(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it refuses
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(value)) {
    throw new ReleaseSwitcherError(
      'UNSUPPORTED',
      `A launchd plist cannot hold ${JSON.stringify(value)}: XML 1.0 has no control characters.`,
      {
        hint: 'Remove control characters from the program arguments, paths and environment.',
      },
    );
  }
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
