/**
 * Progress of long work on stderr: a one-line bar redrawn in place on a terminal, plain timestamped
 * lines otherwise (logs, CI, pipes), nothing with --quiet. stdout is never touched.
 */
import type { ProgressEvent } from '../model/runtime.js';

export interface ProgressOptions {
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  quiet: boolean;
  color: boolean;
}

const BAR_WIDTH = 24;

function fraction(event: ProgressEvent): number | undefined {
  return event.done !== undefined && event.total ? Math.min(1, event.done / event.total) : undefined;
}

function amount(event: ProgressEvent): string {
  if (event.done === undefined) return '';
  const show = (n: number) => (event.unit === 'bytes' ? `${(n / 1024 / 1024).toFixed(1)} MiB` : String(n));
  return event.total
    ? ` ${show(event.done)}/${show(event.total)}${event.unit === 'files' ? ' files' : ''}`
    : ` ${show(event.done)}${event.unit === 'files' ? ' files' : ''}`;
}

export function progressReporter(options: ProgressOptions): ((event: ProgressEvent) => void) | undefined {
  if (options.quiet) return undefined;
  const { stderr } = options;
  if (!stderr.isTTY) {
    return (event) =>
      stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${event.phase}: ${event.message}${amount(event)}\n`);
  }
  const paint = (code: string, text: string) => (options.color ? `\x1b[${code}m${text}\x1b[0m` : text);
  let phase = '';
  return (event) => {
    // A new phase keeps the finished one on screen; the same phase redraws its line.
    if (phase && event.phase !== phase) stderr.write('\n');
    phase = event.phase;
    const share = fraction(event);
    const filled = share === undefined ? 0 : Math.round(share * BAR_WIDTH);
    const bar = share === undefined ? '' : ` [${paint('32', '#'.repeat(filled))}${'.'.repeat(BAR_WIDTH - filled)}]`;
    const visible = 12 + (share === undefined ? 0 : BAR_WIDTH + 3) + amount(event).length + 1;
    // Keep to one terminal line, or the redraw would leave wrapped remains behind.
    const room = Math.max(10, (stderr.columns || 80) - 1 - visible);
    const message = event.message.length > room ? `${event.message.slice(0, room - 1)}…` : event.message;
    stderr.write(`\r\x1b[2K${paint('1', event.phase.padEnd(12))}${bar}${amount(event)} ${message}`);
  };
}

/** Ends the bar's line before anything else is printed. */
export function endProgress(stderr: ProgressOptions['stderr']): void {
  if (stderr.isTTY) stderr.write('\n');
}
