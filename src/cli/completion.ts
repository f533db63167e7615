/**
 * Shell completion scripts for bash, zsh and fish, generated from the command definitions (the same ones help and
 * argument parsing read), so a new command or option completes without anyone editing a script.
 */
import { COMMANDS, type CommandDef, GLOBAL_OPTIONS, type OptionDef, type Shell } from './definitions.js';

const BIN = 'release-switcher';
const visible = () => COMMANDS.filter((c) => !c.hidden);

/** What an option's value completes to: one of its choices, a path, or nothing (free text). */
type ValueKind = { choices: readonly string[] } | 'dir' | 'file' | 'text';

function valueKind(option: OptionDef): ValueKind {
  if (option.choices) return { choices: option.choices };
  if (option.value === 'DIR') return 'dir';
  return option.value === 'PATH' ? 'file' : 'text';
}

/** Every option name that takes a value, once (an option means the same wherever it appears). */
function valueOptions(): Map<string, ValueKind> {
  const all = new Map<string, ValueKind>();
  for (const options of [GLOBAL_OPTIONS, ...COMMANDS.map((c) => c.options)])
    for (const [name, option] of Object.entries(options))
      if (option.type === 'string' && !all.has(name)) all.set(name, valueKind(option));
  return all;
}

function operandWords(def: CommandDef): readonly string[] | undefined {
  return def.operand === 'command' ? visible().map((c) => c.name) : def.operand;
}

const flags = (options: Record<string, OptionDef>) =>
  Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]);

function bash(): string {
  const values = [...valueOptions()].map(([name, kind]) => {
    const reply =
      kind === 'dir'
        ? 'compgen -d -- "$cur"'
        : kind === 'file'
          ? 'compgen -f -- "$cur"'
          : kind === 'text'
            ? 'true'
            : `compgen -W "${kind.choices.join(' ')}" -- "$cur"`;
    return `    --${name}) COMPREPLY=($(${reply})); return ;;`;
  });
  const perCommand = visible().map((def) => {
    const operand = operandWords(def);
    const words = [...flags(def.options), ...(operand ?? [])].join(' ');
    return `    ${def.name}) words="${words}" ;;`;
  });
  return [
    `# bash completion for ${BIN}, generated from its command definitions by \`${BIN} completion bash\`.`,
    '_release_switcher() {',
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmd="" words="" i',
    `  local globals="${flags(GLOBAL_OPTIONS).join(' ')}"`,
    '  # The command is the first word that is not an option nor the value of --root.',
    '  for ((i = 1; i < COMP_CWORD; i++)); do',
    '    case "${COMP_WORDS[i]}" in',
    '      --root) ((i++)) ;;',
    '      -*) ;;',
    '      *) cmd="${COMP_WORDS[i]}"; break ;;',
    '    esac',
    '  done',
    '  case "$prev" in',
    ...values,
    '  esac',
    '  case "$cmd" in',
    `    "") words="${visible()
      .map((c) => c.name)
      .join(' ')}" ;;`,
    ...perCommand,
    '  esac',
    '  COMPREPLY=($(compgen -W "$words $globals" -- "$cur"))',
    '}',
    `complete -F _release_switcher ${BIN}`,
    '',
  ].join('\n');
}

/** A zsh `_arguments` word: single-quoted, with the brackets and colons of a description escaped. */
function zshQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
const zshDescription = (text: string) => text.replace(/\\/g, '\\\\').replace(/[[\]:]/g, (c) => `\\${c}`);

function zshOption(name: string, option: OptionDef): string[] {
  const kind = valueKind(option);
  const action =
    option.type === 'boolean'
      ? ''
      : `${option.optionalValue ? '::' : ':'}${option.value ?? 'VALUE'}:${kind === 'dir' ? '_files -/' : kind === 'file' ? '_files' : kind === 'text' ? ' ' : `(${kind.choices.join(' ')})`}`;
  const spellings = [`--${name}${option.type === 'string' ? '=' : ''}`, ...(option.short ? [`-${option.short}`] : [])];
  const exclusive = option.short ? `(--${name} -${option.short})` : '';
  const repeat = option.multiple ? '*' : '';
  return spellings.map((flag) =>
    zshQuote(`${exclusive}${repeat}${flag}[${zshDescription(option.description)}]${action}`),
  );
}

const zshSpecs = (options: Record<string, OptionDef>) =>
  Object.entries(options).flatMap(([name, option]) => zshOption(name, option));

function zsh(): string {
  const perCommand = visible().map((def) => {
    const operand = operandWords(def);
    const positional = operand ? [zshQuote(`1:${def.args.replace(/[[\]]/g, '')}:(${operand.join(' ')})`)] : [];
    return `    ${def.name}) _arguments "\${globals[@]}" ${[...zshSpecs(def.options), ...positional].join(' ')} ;;`;
  });
  return [
    `#compdef ${BIN}`,
    `# zsh completion for ${BIN}, generated from its command definitions by \`${BIN} completion zsh\`.`,
    '_release_switcher() {',
    `  local -a globals=(${zshSpecs(GLOBAL_OPTIONS).join(' ')})`,
    `  local -a commands=(${visible()
      .map((c) => zshQuote(`${c.name}:${c.summary.replace(/:/g, '\\:')}`))
      .join(' ')})`,
    '  local curcontext="$curcontext" state line',
    `  _arguments -C "\${globals[@]}" '1:command:->command' '*::argument:->argument'`,
    '  case $state in',
    `    command) _describe -t commands '${BIN} command' commands ;;`,
    '    argument)',
    '  case $line[1] in',
    ...perCommand,
    '  esac ;;',
    '  esac',
    '}',
    '_release_switcher "$@"',
    '',
  ].join('\n');
}

const fishQuote = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function fishOption(name: string, option: OptionDef, condition: string): string {
  const kind = valueKind(option);
  const value =
    option.type === 'boolean'
      ? ''
      : kind === 'dir' || kind === 'file'
        ? ' -r -F'
        : kind === 'text'
          ? ' -x'
          : ` -x -a ${fishQuote(kind.choices.join(' '))}`;
  const short = option.short ? ` -s ${option.short}` : '';
  return `complete -c ${BIN}${condition}${short} -l ${name}${value} -d ${fishQuote(option.description)}`;
}

function fish(): string {
  const lines = [
    `# fish completion for ${BIN}, generated from its command definitions by \`${BIN} completion fish\`.`,
    `complete -c ${BIN} -f`,
    ...visible().map((c) => `complete -c ${BIN} -n __fish_use_subcommand -a ${c.name} -d ${fishQuote(c.summary)}`),
    ...Object.entries(GLOBAL_OPTIONS).map(([name, option]) => fishOption(name, option, '')),
  ];
  for (const def of visible()) {
    const condition = ` -n '__fish_seen_subcommand_from ${def.name}'`;
    lines.push(...Object.entries(def.options).map(([name, option]) => fishOption(name, option, condition)));
    const operand = operandWords(def);
    if (operand) lines.push(`complete -c ${BIN}${condition} -a ${fishQuote(operand.join(' '))}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The completion script for `shell`. */
export function completionScript(shell: Shell): string {
  return { bash, zsh, fish }[shell]();
}
