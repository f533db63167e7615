// A generated corpus of hostile tarballs: the product of how an entry's name is carried (ustar name, ustar
// prefix, PAX path, GNU long name, both, global header), what the name says (`..`, absolute, NUL, trailing
// slash, lookalikes, too long), link shapes (chains in both orders, loops, hard links, links written through,
// directories replaced by links) and how their targets are carried (ustar, PAX, GNU long link), every type
// flag byte, duplicate entries of every pair of kinds, and header oddities. Each case says whether it must be
// refused or is harmless and must come out contained, and for the latter exactly which paths are written.
//
// Headers are written byte by byte here (no tar library), so nothing sanitizes what a hostile packer would
// write. Escapes aim at `outside`, a directory the tests watch, by absolute path or by climbing from any depth.
import { gzipSync } from 'node:zlib';

const BLOCK = 512;
const MTIME = Math.floor(new Date('1985-10-26T08:15:00Z').getTime() / 1000);

export interface Block {
  /** Type flag: one character, or a byte value. */
  flag: string | number;
  name: string | Buffer;
  prefix?: string | Buffer;
  linkname?: string | Buffer;
  mode?: number;
  body?: string | Buffer;
  /** The header's size field when it should not be the body's length. */
  sizeField?: number;
  /** 'gnu' writes the old GNU magic, under which the prefix field is not a prefix. @default 'posix' */
  magic?: 'posix' | 'gnu';
  devmajor?: number;
  devminor?: number;
  /** Corrupt the checksum. */
  badChecksum?: boolean;
  /** Raw 12 bytes for the size field (base-256 and other oddities). */
  rawSize?: Buffer;
}

export interface CorpusCase {
  id: string;
  family: 'names' | 'global' | 'type-flags' | 'links' | 'duplicates' | 'headers';
  blocks: Block[];
  /** Raw tar bytes to append before the end marker (for lone zero blocks and the like). */
  expect: 'refuse' | 'contain';
  /** For 'refuse': what the refusal must say (so a case refused for another reason fails). */
  why?: RegExp;
  /** For 'contain': every path written below the destination (after `package/` is stripped), sorted. */
  written?: string[];
  /** For 'contain': file contents to check. */
  contents?: Record<string, string>;
  /** A lone zero block after this many blocks (before the rest). */
  zeroBlockAfter?: number;
}

export interface CorpusOptions {
  /** Absolute path of the watched directory outside the destination (holds `secret` 0600 and `dir/`). */
  outside: string;
  name?: string;
  version?: string;
}

function bytes(value: string | Buffer | undefined): Buffer {
  return value === undefined ? Buffer.alloc(0) : typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

function put(header: Buffer, offset: number, length: number, value: string | Buffer | undefined, what: string): void {
  const b = bytes(value);
  if (b.length > length) throw new Error(`corpus: ${what} of ${b.length} bytes does not fit ${length}`);
  b.copy(header, offset);
}

function octal(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, '0')}\0`;
}

export function encodeHeader(block: Block, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  put(h, 0, 100, block.name, 'name');
  put(h, 100, 8, octal(block.mode ?? 0o644, 8), 'mode');
  put(h, 108, 8, octal(0, 8), 'uid');
  put(h, 116, 8, octal(0, 8), 'gid');
  if (block.rawSize) block.rawSize.copy(h, 124, 0, 12);
  else put(h, 124, 12, octal(block.sizeField ?? size, 12), 'size');
  put(h, 136, 12, octal(MTIME, 12), 'mtime');
  h[156] = typeof block.flag === 'number' ? block.flag : block.flag === '' ? 0 : block.flag.charCodeAt(0);
  put(h, 157, 100, block.linkname, 'linkname');
  if (block.magic === 'gnu') h.write('ustar  \0', 257, 'latin1');
  else h.write('ustar\x0000', 257, 'latin1');
  h.write('root', 265, 'latin1');
  h.write('root', 297, 'latin1');
  put(h, 329, 8, octal(block.devmajor ?? 0, 8), 'devmajor');
  put(h, 337, 8, octal(block.devminor ?? 0, 8), 'devminor');
  put(h, 345, 155, block.prefix, 'prefix');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of h) sum += byte;
  if (block.badChecksum) sum += 1;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

/** The uncompressed tar. */
export function encodeTar(blocks: Block[], zeroBlockAfter?: number): Buffer {
  const out: Buffer[] = [];
  blocks.forEach((block, i) => {
    if (zeroBlockAfter === i) out.push(Buffer.alloc(BLOCK));
    const body = bytes(block.body);
    out.push(encodeHeader(block, body.length));
    if (body.length > 0) out.push(body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
  });
  out.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(out);
}

export function encodeCase(c: CorpusCase): Buffer {
  return gzipSync(encodeTar(c.blocks, c.zeroBlockAfter));
}

/** PAX records `<len> <key>=<value>\n`, the length counting itself. Values may be raw bytes. */
export function pax(records: Record<string, string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of Object.entries(records)) {
    const rest = Buffer.concat([Buffer.from(` ${key}=`), bytes(value), Buffer.from('\n')]);
    let len = rest.length + 1;
    while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
    parts.push(Buffer.from(String(len)), rest);
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------------------

type NameCarrier =
  | 'ustar-name'
  | 'ustar-prefix'
  | 'pax-path'
  | 'gnu-long-name'
  | 'pax-and-gnu-agree'
  | 'hidden-under-pax'
  | 'hidden-under-gnu';
const NAME_CARRIERS: NameCarrier[] = [
  'ustar-name',
  'ustar-prefix',
  'pax-path',
  'gnu-long-name',
  'pax-and-gnu-agree',
  'hidden-under-pax',
  'hidden-under-gnu',
];

/**
 * The blocks that give a regular file the name `name` through `carrier`; undefined when the carrier
 * cannot hold it. 'hidden-under-*': the ustar name is `name`, a PAX path / GNU long name says
 * `package/harmless.js` (every tar reads the latter).
 */
function carryName(carrier: NameCarrier, name: Buffer, file: Omit<Block, 'name'>): Block[] | undefined {
  const placeholder = 'package/placeholder-name';
  switch (carrier) {
    case 'ustar-name':
      return name.length <= 100 ? [{ ...file, name }] : undefined;
    case 'ustar-prefix': {
      // Split at a '/' so the prefix holds at most 155 bytes and the name at most 100.
      for (let i = Math.min(name.length - 1, 155); i > 0; i--) {
        if (name[i] === 0x2f && name.length - i - 1 <= 100 && name.length - i - 1 > 0)
          return [{ ...file, prefix: name.subarray(0, i), name: name.subarray(i + 1) }];
      }
      return undefined;
    }
    case 'pax-path':
      return [
        { flag: 'x', name: 'PaxHeader/x', body: pax({ path: name }) },
        { ...file, name: placeholder },
      ];
    case 'gnu-long-name':
      return [
        { flag: 'L', name: '././@LongLink', body: Buffer.concat([name, Buffer.from([0])]) },
        { ...file, name: placeholder },
      ];
    case 'pax-and-gnu-agree':
      return [
        { flag: 'x', name: 'PaxHeader/x', body: pax({ path: name }) },
        { flag: 'L', name: '././@LongLink', body: Buffer.concat([name, Buffer.from([0])]) },
        { ...file, name: placeholder },
      ];
    case 'hidden-under-pax':
      return name.length <= 100
        ? [
            { flag: 'x', name: 'PaxHeader/x', body: pax({ path: 'package/harmless.js' }) },
            { ...file, name },
          ]
        : undefined;
    case 'hidden-under-gnu':
      return name.length <= 100
        ? [
            { flag: 'L', name: '././@LongLink', body: 'package/harmless.js\0' },
            { ...file, name },
          ]
        : undefined;
  }
}

type LinkCarrier = 'ustar-linkname' | 'pax-linkpath' | 'gnu-long-link';
const LINK_CARRIERS: LinkCarrier[] = ['ustar-linkname', 'pax-linkpath', 'gnu-long-link'];

function carryLink(carrier: LinkCarrier, name: string, target: string, flag = '2'): Block[] | undefined {
  const link: Block = { flag, name, mode: 0o777 };
  switch (carrier) {
    case 'ustar-linkname':
      return Buffer.byteLength(target) <= 100 ? [{ ...link, linkname: target }] : undefined;
    case 'pax-linkpath':
      return [
        { flag: 'x', name: 'PaxHeader/l', body: pax({ linkpath: target }) },
        { ...link, linkname: 'placeholder-target' },
      ];
    case 'gnu-long-link':
      return [
        { flag: 'K', name: '././@LongLink', body: `${target}\0` },
        { ...link, linkname: 'placeholder-target' },
      ];
  }
}

const file = (name: string, body = 'x', mode = 0o644): Block => ({ flag: '0', name, body, mode });
const dir = (name: string): Block => ({ flag: '5', name, mode: 0o755 });

/** Every case, with escapes aimed at `options.outside`. */
export function hostileCorpus(options: CorpusOptions): CorpusCase[] {
  const outside = options.outside.replace(/\/+$/, '');
  const pkgJson = file(
    'package/package.json',
    `${JSON.stringify({ name: options.name ?? 'hostile', version: options.version ?? '1.0.0' })}\n`,
  );
  /** From any depth below / up to / and down to `outside`. */
  const climb = `${'../'.repeat(20)}${outside.slice(1)}`;
  const cases: CorpusCase[] = [];
  const add = (c: Omit<CorpusCase, 'blocks'> & { blocks: Block[] }) =>
    cases.push({ ...c, blocks: [pkgJson, ...c.blocks] });
  const base = ['package.json'];
  const sorted = (...paths: string[]) => [...base, ...paths].sort();

  // --- names: what the name says × how it is carried ---
  interface NameFault {
    id: string;
    name: Buffer;
    /** undefined: refused whatever the carrier; else the path written per carrier (or 'refuse'). */
    outcome: (carrier: NameCarrier) => { refuse: RegExp } | { written: string[] };
  }
  const refuse = (why: RegExp) => () => ({ refuse: why });
  const hiddenOk = (carrier: NameCarrier, written: string[]) =>
    carrier.startsWith('hidden-') ? { written: sorted('harmless.js') } : { written: sorted(...written) };
  const faults: NameFault[] = [
    { id: 'dotdot-to-outside', name: Buffer.from(`package/${climb}/evil`), outcome: refuse(/climbs out/) },
    { id: 'short-dotdot', name: Buffer.from('package/../../evil'), outcome: refuse(/climbs out/) },
    { id: 'dotdot-that-stays-inside', name: Buffer.from('package/lib/../evil.js'), outcome: refuse(/climbs out/) },
    { id: 'absolute', name: Buffer.from(`${outside}/abs-evil`), outcome: refuse(/absolute path/) },
    {
      id: 'trailing-slash-on-a-file',
      name: Buffer.from('package/looks-like-a-dir/'),
      outcome: refuse(/named like a directory/),
    },
    // A NUL ends a name in ustar fields and in a GNU long name (C strings); a PAX value keeps it.
    {
      id: 'nul-then-dotdot',
      name: Buffer.from(`package/ok.js\0/../../${climb}/evil`),
      outcome: (carrier) =>
        carrier === 'pax-path'
          ? { refuse: /NUL/ }
          : carrier === 'pax-and-gnu-agree'
            ? { refuse: /named both/ }
            : carrier === 'ustar-prefix'
              ? { written: sorted('ok.js', 'ok.js/evil') }
              : hiddenOk(carrier, ['ok.js']),
    },
    {
      id: 'segment-longer-than-NAME_MAX',
      name: Buffer.from(`package/${'n'.repeat(300)}.js`),
      outcome: refuse(/longer than 255 bytes/),
    },
    {
      id: 'path-longer-than-PATH_MAX',
      name: Buffer.from(`package/${`${'d'.repeat(200)}/`.repeat(22)}f.js`),
      outcome: refuse(/longer than 4095 bytes/),
    },
    // Fits the checks, not the filesystem once below the destination: refused, never an internal error.
    {
      id: 'path-that-reaches-PATH_MAX-below-the-destination',
      name: Buffer.from(`package/${`${'d'.repeat(200)}/`.repeat(20)}${'f'.repeat(60)}`),
      outcome: refuse(/too long/),
    },
    {
      id: 'unicode-lookalike-dots',
      name: Buffer.from('package/\u2025/\uff0e\uff0e/evil'),
      outcome: (carrier) => hiddenOk(carrier, ['\u2025', '\u2025/\uff0e\uff0e', '\u2025/\uff0e\uff0e/evil']),
    },
    // 0xC0 0xAE is an overlong encoding of '.': never decoded as a dot.
    {
      id: 'overlong-utf8-dotdot',
      name: Buffer.from([...Buffer.from('package/'), 0xc0, 0xae, 0xc0, 0xae, ...Buffer.from('/evil')]),
      outcome: (carrier) => hiddenOk(carrier, ['\ufffd\ufffd\ufffd\ufffd', '\ufffd\ufffd\ufffd\ufffd/evil']),
    },
    {
      id: 'backslash-dotdot',
      name: Buffer.from('package/..\\..\\evil'),
      outcome: (carrier) => hiddenOk(carrier, ['..\\..\\evil']),
    },
    {
      id: 'control-characters',
      name: Buffer.from('package/a\nb\r\x1b[31m.js'),
      outcome: (carrier) => hiddenOk(carrier, ['a\nb\r\x1b[31m.js']),
    },
    {
      id: 'dot-and-empty-segments',
      name: Buffer.from('package/././/lib//./a.js'),
      outcome: (carrier) => hiddenOk(carrier, ['lib', 'lib/a.js']),
    },
  ];
  for (const fault of faults) {
    for (const carrier of NAME_CARRIERS) {
      const blocks = carryName(carrier, fault.name, { flag: '0', body: 'pwned', mode: 0o644 });
      if (!blocks) continue;
      const outcome = fault.outcome(carrier);
      const id = `names/${fault.id}/${carrier}`;
      if ('refuse' in outcome) {
        // Hidden under a harmless PAX/GNU name, the fault in the ustar name is never read by any tar.
        if (carrier.startsWith('hidden-'))
          add({ id, family: 'names', blocks, expect: 'contain', written: sorted('harmless.js') });
        else add({ id, family: 'names', blocks, expect: 'refuse', why: outcome.refuse });
      } else add({ id, family: 'names', blocks, expect: 'contain', written: outcome.written });
    }
  }
  // The prefix field under the old GNU magic is not a prefix (GNU tar and node-tar both ignore it).
  add({
    id: 'names/prefix-under-gnu-magic-is-ignored',
    family: 'names',
    blocks: [{ ...file('package/a.js'), prefix: `${climb}`, magic: 'gnu' }],
    expect: 'contain',
    written: sorted('a.js'),
  });
  add({
    id: 'names/ustar-prefix-absolute',
    family: 'names',
    blocks: [{ ...file('evil'), prefix: outside }],
    expect: 'refuse',
    why: /absolute path/,
  });
  add({
    id: 'names/pax-path-and-gnu-long-name-disagree',
    family: 'names',
    blocks: [
      { flag: 'x', name: 'PaxHeader/x', body: pax({ path: 'package/harmless.js' }) },
      { flag: 'L', name: '././@LongLink', body: `package/${climb}/evil\0` },
      file('package/short'),
    ],
    expect: 'refuse',
    why: /named both/,
  });
  add({
    id: 'names/two-gnu-long-names',
    family: 'names',
    blocks: [
      { flag: 'L', name: '././@LongLink', body: 'package/a\0' },
      { flag: 'L', name: '././@LongLink', body: 'package/../b\0' },
      file('package/c'),
    ],
    expect: 'refuse',
    why: /two 'L' headers/,
  });
  add({
    id: 'names/two-pax-headers',
    family: 'names',
    blocks: [
      { flag: 'x', name: 'PaxHeader/x', body: pax({ path: 'package/a' }) },
      { flag: 'x', name: 'PaxHeader/x', body: pax({ path: 'package/b' }) },
      file('package/c'),
    ],
    expect: 'refuse',
    why: /two 'x' headers/,
  });
  add({
    id: 'names/old-gnu-long-names-N',
    family: 'names',
    blocks: [{ flag: 'N', name: 'package/n', body: `Symlink package/x to ${outside}/secret\n` }],
    expect: 'refuse',
    why: /old GNU long name entry/,
  });
  add({
    id: 'names/empty-pax-path',
    family: 'names',
    blocks: [{ flag: 'x', name: 'PaxHeader/x', body: pax({ path: '' }) }, file('package/x.js')],
    expect: 'contain',
    written: sorted(),
  });

  // --- global headers ---
  const g = (records: Record<string, string>): Block => ({ flag: 'g', name: 'pax_global_header', body: pax(records) });
  add({
    id: 'global/path',
    family: 'global',
    blocks: [g({ path: `package/${climb}/evil` }), file('package/x')],
    expect: 'refuse',
    why: /global PAX header sets path/,
  });
  add({
    id: 'global/linkpath',
    family: 'global',
    blocks: [g({ linkpath: `${outside}/secret` }), { flag: '2', name: 'package/l', linkname: 'package.json' }],
    expect: 'refuse',
    why: /global PAX header sets linkpath/,
  });
  add({
    id: 'global/size',
    family: 'global',
    blocks: [g({ size: '0' }), file('package/x', 'hidden')],
    expect: 'refuse',
    why: /global PAX header sets size/,
  });
  add({
    id: 'global/uid-and-uname',
    family: 'global',
    blocks: [g({ uid: '0', uname: 'root' }), file('package/x')],
    expect: 'refuse',
    why: /global PAX header sets uid, uname/,
  });
  add({
    id: 'global/path-after-entries',
    family: 'global',
    blocks: [file('package/a'), g({ path: `${outside}/late` }), file('package/b')],
    expect: 'refuse',
    why: /global PAX header sets path/,
  });
  add({
    id: 'global/comment-and-mtime-only',
    family: 'global',
    blocks: [g({ comment: 'git 0123', mtime: '499162500' }), file('package/x')],
    expect: 'contain',
    written: sorted('x'),
  });

  // --- type flags: every byte that is not a file, directory, symlink or meta header ---
  const smuggled = encodeTar([file(`package/${'../'.repeat(3)}smuggled`, 'pwned')]).subarray(0, 2 * BLOCK);
  const known = new Set([0x30, 0x32, 0x35, 0x37, 0x78, 0x67, 0x4c, 0x4b, 0x00]);
  const NAMES: Record<string, RegExp> = {
    '1': /hard link entry/,
    '3': /character device entry/,
    '4': /block device entry/,
    '6': /fifo entry/,
    S: /GNU sparse file entry/,
    V: /volume header entry/,
    M: /multi-volume continuation entry/,
    N: /old GNU long name entry/,
    D: /GNU dump dir entry/,
  };
  for (let flag = 1; flag < 256; flag++) {
    if (known.has(flag)) continue;
    const ch = String.fromCharCode(flag);
    const label = flag > 0x20 && flag < 0x7f ? `'${ch}'` : `0x${flag.toString(16).padStart(2, '0')}`;
    // A body that is itself a header: a tar that takes the entry as bodiless reads the smuggled file next.
    add({
      id: `type-flags/${label}`,
      family: 'type-flags',
      blocks: [{ flag, name: 'package/t', body: smuggled, devmajor: 1, devminor: 3 }],
      expect: 'refuse',
      why: NAMES[ch] ?? /entry/,
    });
  }
  add({
    id: 'type-flags/block-device-without-body',
    family: 'type-flags',
    blocks: [{ flag: '4', name: 'package/sda', devmajor: 8, devminor: 0, mode: 0o660 }],
    expect: 'refuse',
    why: /block device entry/,
  });
  add({
    id: 'type-flags/char-device-dev-null',
    family: 'type-flags',
    blocks: [{ flag: '3', name: 'package/null', devmajor: 1, devminor: 3, mode: 0o666 }],
    expect: 'refuse',
    why: /character device entry/,
  });
  add({
    id: 'type-flags/fifo-without-body',
    family: 'type-flags',
    blocks: [{ flag: '6', name: 'package/fifo' }],
    expect: 'refuse',
    why: /fifo entry/,
  });
  add({
    id: 'type-flags/sparse-under-pax-keys',
    family: 'type-flags',
    blocks: [
      {
        flag: 'x',
        name: 'PaxHeader/s',
        body: pax({
          'GNU.sparse.major': '1',
          'GNU.sparse.minor': '0',
          'GNU.sparse.name': 'package/s',
          'GNU.sparse.realsize': '1048576',
        }),
      },
      file('package/GNUSparseFile.0/s', '1\n0\n1\n'),
    ],
    expect: 'refuse',
    why: /GNU\.sparse/,
  });
  add({
    id: "type-flags/'7'-contiguous-is-a-file",
    family: 'type-flags',
    blocks: [{ flag: '7', name: 'package/c.js', body: 'contiguous' }],
    expect: 'contain',
    written: sorted('c.js'),
    contents: { 'c.js': 'contiguous' },
  });
  add({
    id: 'type-flags/NUL-old-regular-file',
    family: 'type-flags',
    blocks: [{ flag: '', name: 'package/old.js', body: 'old' }],
    expect: 'contain',
    written: sorted('old.js'),
    contents: { 'old.js': 'old' },
  });
  add({
    id: 'type-flags/NUL-with-trailing-slash-old-dir',
    family: 'type-flags',
    blocks: [{ flag: '', name: 'package/olddir/', body: '' }],
    expect: 'refuse',
    why: /named like a directory/,
  });
  add({
    id: 'type-flags/dir-without-trailing-slash',
    family: 'type-flags',
    blocks: [dir('package/d')],
    expect: 'contain',
    written: sorted('d'),
  });

  // --- links: shape × how the target is carried ---
  interface LinkShape {
    id: string;
    /** `carry(name, target)` gives the blocks of a symlink through the carrier under test. */
    build: (carry: (name: string, target: string) => Block[]) => Block[];
    expect: { refuse: RegExp } | { written: string[]; contents?: Record<string, string> };
  }
  const chain = (n: number, to: string) => (carry: (name: string, target: string) => Block[]) =>
    Array.from({ length: n }, (_, i) => carry(`package/l${i}`, i === n - 1 ? to : `l${i + 1}`)).flat();
  const shapes: LinkShape[] = [
    {
      id: 'absolute-target',
      build: (carry) => carry('package/l', `${outside}/secret`),
      expect: { refuse: /absolute path/ },
    },
    { id: 'climbs-to-outside', build: (carry) => carry('package/lib/l', climb), expect: { refuse: /leads outside/ } },
    { id: 'dotdot-only', build: (carry) => carry('package/up', '..'), expect: { refuse: /leads outside/ } },
    {
      id: 'chain-each-lexically-inside',
      build: (carry) => [
        ...carry('package/d1/d2/a', '../..'),
        ...carry('package/d1/d2/b', 'a/../..'),
        ...carry('package/d1/d2/etc', `b/${climb}`),
      ],
      expect: { refuse: /leads outside/ },
    },
    {
      id: 'chain-reverse-order',
      build: (carry) => [...carry('package/d1/d2/b', 'a/../..'), ...carry('package/d1/d2/a', '../..')],
      expect: { refuse: /d1\/d2\/b -> a\/\.\.\/\.\. leads outside/ },
    },
    // Lexically x/e -> x, but through d (the root) one level above it.
    {
      id: 'chain-through-a-later-link-to-the-root',
      build: (carry) => [...carry('package/x/e', 'd/..'), ...carry('package/x/d', '..')],
      expect: { refuse: /x\/e -> d\/\.\. leads outside/ },
    },
    {
      id: 'loop',
      build: (carry) => [...carry('package/a', 'b'), ...carry('package/b', 'a')],
      expect: { refuse: /leads outside/ },
    },
    { id: 'self-loop', build: (carry) => carry('package/me', 'me'), expect: { refuse: /leads outside/ } },
    {
      id: 'chain-of-30-inside',
      build: chain(30, 'package.json'),
      expect: { written: sorted(...Array.from({ length: 30 }, (_, i) => `l${i}`)) },
    },
    { id: 'chain-of-45-too-long', build: chain(45, 'package.json'), expect: { refuse: /leads outside/ } },
    { id: 'dot', build: (carry) => carry('package/self', '.'), expect: { written: sorted('self') } },
    {
      id: 'inside-sibling',
      build: (carry) => [file('package/lib/a.js', 'a'), ...carry('package/lib/alias.js', '../package.json')],
      expect: { written: sorted('lib', 'lib/a.js', 'lib/alias.js') },
    },
    {
      id: 'dangling-inside',
      build: (carry) => carry('package/l', 'missing/file.js'),
      expect: { written: sorted('l') },
    },
    {
      id: 'dangling-that-would-escape',
      build: (carry) => carry('package/l', 'missing/../../x'),
      expect: { refuse: /leads outside/ },
    },
    {
      id: 'through-a-file-then-up',
      build: (carry) => carry('package/f', 'package.json/../..'),
      expect: { refuse: /leads outside/ },
    },
    {
      id: 'through-a-file-link-then-up',
      build: (carry) => [...carry('package/sub/p', '../package.json'), ...carry('package/sub/g', 'p/../..')],
      expect: { refuse: /sub\/g -> p\/\.\.\/\.\. leads outside/ },
    },
    {
      id: 'target-longer-than-PATH_MAX',
      build: (carry) => carry('package/l', `${'x/'.repeat(2100)}y`),
      expect: { refuse: /longer than 4095 bytes/ },
    },
    {
      id: 'file-written-through',
      build: (carry) => [dir('package/sub/'), ...carry('package/lib', 'sub'), file('package/lib/x.js')],
      expect: { refuse: /lib\/x\.js would be written through the symlink lib/ },
    },
    {
      id: 'file-written-through-to-outside',
      build: (carry) => [...carry('package/lib', `${climb}/dir`), file('package/lib/inner', 'pwned')],
      expect: { refuse: /leads outside/ },
    },
    {
      id: 'dir-made-through',
      build: (carry) => [dir('package/sub/'), ...carry('package/lib', 'sub'), dir('package/lib/d/')],
      expect: { refuse: /written through the symlink lib/ },
    },
    {
      id: 'link-made-through',
      build: (carry) => [
        dir('package/sub/'),
        ...carry('package/lib', 'sub'),
        ...carry('package/lib/l', '../package.json'),
      ],
      expect: { refuse: /written through the symlink lib/ },
    },
    {
      id: 'written-through-a-dot-spelling',
      build: (carry) => [dir('package/sub/'), ...carry('package/lib', 'sub'), file('package/./lib//x.js')],
      expect: { refuse: /written through the symlink lib/ },
    },
    {
      id: 'written-through-self-dot',
      build: (carry) => [...carry('package/self', '.'), file('package/self/self/x.js')],
      expect: { refuse: /written through the symlink self/ },
    },
    {
      id: 'dir-replaced-by-link',
      build: (carry) => [dir('package/lib/'), ...carry('package/lib', `${climb}/dir`)],
      expect: { refuse: /leads outside|appears twice/ },
    },
    {
      id: 'dir-replaced-by-inside-link',
      build: (carry) => [dir('package/sub/'), dir('package/lib/'), ...carry('package/lib', 'sub')],
      expect: { refuse: /lib appears twice in the archive \(dir, then symlink\)/ },
    },
    {
      id: 'implicit-dir-replaced-by-link',
      build: (carry) => [file('package/lib/a.js'), ...carry('package/lib', '.')],
      expect: { refuse: /lib appears twice in the archive \(dir, then symlink\)/ },
    },
    {
      id: 'file-replaced-by-link',
      build: (carry) => [file('package/a.js'), ...carry('package/a.js', 'package.json')],
      expect: { refuse: /a\.js appears twice in the archive \(file, then symlink\)/ },
    },
    {
      id: 'link-replaced-by-file',
      build: (carry) => [...carry('package/a.js', 'package.json'), file('package/a.js', 'pwned')],
      expect: { refuse: /a\.js appears twice in the archive \(symlink, then file\)/ },
    },
    {
      id: 'link-replaced-by-dir',
      build: (carry) => [dir('package/sub/'), ...carry('package/lib', 'sub'), dir('package/lib/')],
      expect: { refuse: /lib appears twice in the archive \(symlink, then dir\)/ },
    },
    { id: 'empty-target', build: (carry) => carry('package/e', ''), expect: { refuse: /has the target ""/ } },
  ];
  for (const shape of shapes) {
    for (const carrier of LINK_CARRIERS) {
      let fits = true;
      const carry = (name: string, target: string) => {
        const blocks = carryLink(carrier, name, target);
        if (!blocks) fits = false;
        return blocks ?? [];
      };
      const blocks = shape.build(carry);
      if (!fits) continue;
      const id = `links/${shape.id}/${carrier}`;
      if ('refuse' in shape.expect) add({ id, family: 'links', blocks, expect: 'refuse', why: shape.expect.refuse });
      else
        add({
          id,
          family: 'links',
          blocks,
          expect: 'contain',
          written: shape.expect.written,
          ...(shape.expect.contents ? { contents: shape.expect.contents } : {}),
        });
    }
  }
  // Hard links, however carried, and conflicts between carriers.
  for (const [id, target] of [
    ['inside', 'package/package.json'],
    ['absolute-outside', `${outside}/secret`],
    ['climbing-outside', climb.slice(0, 90)],
  ] as const) {
    for (const carrier of LINK_CARRIERS) {
      const blocks = carryLink(carrier, 'package/h', target, '1');
      if (blocks)
        add({
          id: `links/hardlink-${id}/${carrier}`,
          family: 'links',
          blocks,
          expect: 'refuse',
          why: /hard link entry/,
        });
    }
  }
  add({
    id: 'links/hardlink-then-file-written-through-it',
    family: 'links',
    blocks: [{ flag: '1', name: 'package/h', linkname: 'package/package.json' }, file('package/h', 'pwned')],
    expect: 'refuse',
    why: /hard link entry/,
  });
  add({
    id: 'links/pax-linkpath-and-gnu-long-link-disagree',
    family: 'links',
    blocks: [
      { flag: 'x', name: 'PaxHeader/l', body: pax({ linkpath: 'package.json' }) },
      { flag: 'K', name: '././@LongLink', body: `${climb}/secret\0` },
      { flag: '2', name: 'package/l', linkname: 'x' },
    ],
    expect: 'refuse',
    why: /a link to both/,
  });
  add({
    id: 'links/pax-linkpath-and-gnu-long-link-agree',
    family: 'links',
    blocks: [
      { flag: 'x', name: 'PaxHeader/l', body: pax({ linkpath: 'package.json' }) },
      { flag: 'K', name: '././@LongLink', body: 'package.json\0' },
      { flag: '2', name: 'package/l', linkname: `${outside}/secret` },
    ],
    expect: 'contain',
    written: sorted('l'),
  });
  add({
    id: 'links/two-gnu-long-links',
    family: 'links',
    blocks: [
      { flag: 'K', name: '././@LongLink', body: 'package.json\0' },
      { flag: 'K', name: '././@LongLink', body: `${outside}/secret\0` },
      { flag: '2', name: 'package/l', linkname: 'x' },
    ],
    expect: 'refuse',
    why: /two 'K' headers/,
  });
  add({
    id: 'links/nul-in-pax-linkpath',
    family: 'links',
    blocks: [
      { flag: 'x', name: 'PaxHeader/l', body: pax({ linkpath: `package.json\0${outside}/secret` }) },
      { flag: '2', name: 'package/l', linkname: 'x' },
    ],
    expect: 'refuse',
    why: /has the target/,
  });
  add({
    id: 'links/nul-in-gnu-long-link-ends-it',
    family: 'links',
    blocks: [
      { flag: 'K', name: '././@LongLink', body: `package.json\0${outside}/secret\0` },
      { flag: '2', name: 'package/l', linkname: 'x' },
    ],
    expect: 'contain',
    written: sorted('l'),
  });
  add({
    id: 'links/symlink-with-a-body',
    family: 'links',
    blocks: [{ flag: '2', name: 'package/l', linkname: 'package.json', body: smuggled }],
    expect: 'refuse',
    why: /symlink entry with a body/,
  });
  add({
    id: 'links/symlink-named-with-trailing-slash',
    family: 'links',
    blocks: [dir('package/sub/'), { flag: '2', name: 'package/l/', linkname: 'sub' }],
    expect: 'contain',
    written: sorted('l', 'sub'),
  });

  // --- duplicates: every ordered pair of kinds on one path ---
  type DupKind = 'file' | 'dir' | 'link-inside' | 'link-outside' | 'hardlink';
  const KINDS: DupKind[] = ['file', 'dir', 'link-inside', 'link-outside', 'hardlink'];
  const entryOf = (kind: DupKind, name: string, n: number): Block => {
    if (kind === 'file') return file(name, `copy ${n}`);
    if (kind === 'dir') return dir(`${name}/`);
    if (kind === 'link-inside') return { flag: '2', name, linkname: 'package.json' };
    if (kind === 'link-outside') return { flag: '2', name, linkname: `${outside}/dir` };
    return { flag: '1', name, linkname: 'package/package.json' };
  };
  const spellings = ['package/dup', 'package/./dup', 'package//dup'];
  for (const first of KINDS) {
    for (const second of KINDS) {
      const blocks = [
        entryOf(first, spellings[0]!, 1),
        entryOf(second, spellings[(KINDS.indexOf(first) + KINDS.indexOf(second)) % 3]!, 2),
        file('package/dup/inner', 'pwned'),
      ];
      const id = `duplicates/${first}-then-${second}`;
      if (first === 'hardlink' || second === 'hardlink')
        add({ id, family: 'duplicates', blocks, expect: 'refuse', why: /hard link entry/ });
      else if (first === 'link-outside')
        add({ id, family: 'duplicates', blocks, expect: 'refuse', why: /absolute path/ });
      else if (first === second && first === 'dir')
        add({
          id,
          family: 'duplicates',
          blocks,
          expect: 'contain',
          written: sorted('dup', 'dup/inner'),
          contents: { 'dup/inner': 'pwned' },
        });
      else if (first === second && first === 'file')
        add({
          id,
          family: 'duplicates',
          blocks,
          expect: 'refuse',
          why: /dup\/inner would be written through the file dup/,
        });
      else if (second === 'link-outside')
        add({ id, family: 'duplicates', blocks, expect: 'refuse', why: /appears twice/ });
      else
        add({
          id,
          family: 'duplicates',
          blocks,
          expect: 'refuse',
          why: new RegExp(
            `dup appears twice in the archive \\(${first === 'file' ? 'file' : first === 'dir' ? 'dir' : 'symlink'}, then ${second === 'file' ? 'file' : second === 'dir' ? 'dir' : 'symlink'}\\)`,
          ),
        });
    }
  }
  add({
    id: 'duplicates/file-twice-later-wins',
    family: 'duplicates',
    blocks: [
      file('package/a.js', 'one', 0o755),
      { flag: 'x', name: 'PaxHeader/x', body: pax({ path: 'package/./a.js' }) },
      file('package/placeholder', 'two', 0o644),
    ],
    expect: 'contain',
    written: sorted('a.js'),
    contents: { 'a.js': 'two' },
  });
  add({
    id: 'duplicates/file-three-times-across-spellings',
    family: 'duplicates',
    blocks: [
      file('package/a.js', 'one'),
      file('package//a.js', 'two'),
      { ...file('a.js', 'three'), prefix: 'package/.' },
    ],
    expect: 'contain',
    written: sorted('a.js'),
    contents: { 'a.js': 'three' },
  });
  add({
    id: 'duplicates/package.json-replaced',
    family: 'duplicates',
    blocks: [file('package/package.json', '{"name":"other","version":"6.6.6"}\n')],
    expect: 'contain',
    written: sorted(),
    contents: { 'package.json': '{"name":"other","version":"6.6.6"}\n' },
  });
  add({
    id: 'duplicates/same-name-under-two-top-folders',
    family: 'duplicates',
    blocks: [file('package/x.js', 'one'), file('other/x.js', 'two')],
    expect: 'contain',
    written: sorted('x.js'),
    contents: { 'x.js': 'two' },
  });

  // --- header oddities ---
  add({
    id: 'headers/pax-size-over-ustar-size',
    family: 'headers',
    blocks: [
      { flag: 'x', name: 'PaxHeader/x', body: pax({ size: '9' }) },
      { ...file('package/s.js', 'nine byte'), sizeField: 0 },
    ],
    expect: 'contain',
    written: sorted('s.js'),
    contents: { 's.js': 'nine byte' },
  });
  add({
    id: 'headers/pax-size-not-decimal',
    family: 'headers',
    blocks: [{ flag: 'x', name: 'PaxHeader/x', body: pax({ size: '0x10' }) }, file('package/s.js')],
    expect: 'refuse',
    why: /PAX size/,
  });
  add({
    id: 'headers/pax-key-twice',
    family: 'headers',
    blocks: [
      {
        flag: 'x',
        name: 'PaxHeader/x',
        body: Buffer.concat([pax({ path: 'package/a' }), pax({ path: `${outside}/evil` })]),
      },
      file('package/x'),
    ],
    expect: 'refuse',
    why: /sets path twice/,
  });
  add({
    id: 'headers/pax-record-length-wrong',
    family: 'headers',
    blocks: [{ flag: 'x', name: 'PaxHeader/x', body: '99 path=package/a\n' }, file('package/x')],
    expect: 'refuse',
    why: /malformed PAX record/,
  });
  for (const key of [
    'type',
    'mode',
    'GNU.sparse.size',
    'SCHILY.acl.access',
    'LIBARCHIVE.symlinktype',
    'SCHILY.filetype',
  ]) {
    add({
      id: `headers/pax-key-${key}`,
      family: 'headers',
      blocks: [{ flag: 'x', name: 'PaxHeader/x', body: pax({ [key]: '2' }) }, file('package/k')],
      expect: 'refuse',
      why: /does not honour/,
    });
  }
  add({
    id: 'headers/pax-xattr-ignored',
    family: 'headers',
    blocks: [
      { flag: 'x', name: 'PaxHeader/x', body: pax({ 'SCHILY.xattr.security.capability': 'x' }) },
      file('package/k'),
    ],
    expect: 'contain',
    written: sorted('k'),
  });
  add({
    id: 'headers/bad-checksum',
    family: 'headers',
    blocks: [{ ...file('package/c'), badChecksum: true }],
    expect: 'refuse',
    why: /bad checksum/,
  });
  add({
    id: 'headers/base-256-size',
    family: 'headers',
    blocks: [{ ...file('package/b'), rawSize: Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]) }],
    expect: 'refuse',
    why: /base-256/,
  });
  add({
    id: 'headers/lone-zero-block',
    family: 'headers',
    blocks: [file('package/a'), file('package/b')],
    zeroBlockAfter: 2,
    expect: 'refuse',
    why: /lone zero block/,
  });
  add({
    id: 'headers/meta-header-over-1MiB',
    family: 'headers',
    blocks: [{ flag: 'L', name: '././@LongLink', body: Buffer.alloc(1024 * 1024 + 1, 0x61) }, file('package/x')],
    expect: 'refuse',
    why: /meta header of/,
  });
  add({
    id: 'headers/directory-with-a-body',
    family: 'headers',
    blocks: [{ flag: '5', name: 'package/d/', body: smuggled }],
    expect: 'refuse',
    why: /dir entry with a body/,
  });
  for (const [bits, label] of [
    [0o4755, 'setuid'],
    [0o2755, 'setgid'],
    [0o1755, 'sticky'],
  ] as const) {
    add({
      id: `headers/${label}-file`,
      family: 'headers',
      blocks: [file('package/bin/tool', '#!', bits)],
      expect: 'refuse',
      why: /setuid\/setgid\/sticky/,
    });
    add({
      id: `headers/${label}-dir`,
      family: 'headers',
      blocks: [{ ...dir('package/d/'), mode: bits }],
      expect: 'refuse',
      why: /setuid\/setgid\/sticky/,
    });
  }
  add({
    id: 'headers/mode-with-file-type-bits',
    family: 'headers',
    blocks: [file('package/m.js', 'm', 0o100600)],
    expect: 'contain',
    written: sorted('m.js'),
  });
  add({
    id: 'headers/world-writable-file',
    family: 'headers',
    blocks: [file('package/w.js', 'w', 0o777)],
    expect: 'contain',
    written: sorted('w.js'),
  });
  add({
    id: 'headers/meta-header-with-no-entry-after',
    family: 'headers',
    blocks: [{ flag: 'x', name: 'PaxHeader/x', body: pax({ path: `${outside}/evil` }) }],
    expect: 'contain',
    written: sorted(),
  });
  return cases;
}
