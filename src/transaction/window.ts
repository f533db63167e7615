/**
 * The stop window of an activation: from the moment the serving process stops serving (its first answer that is not
 * healthy after the flip, watched from there; without a health URL the handoff request, else the stop, else the
 * restart) until the new one first answers
 * healthy, in contiguous parts, so that an operator sees where the seconds of an outage went (`tx.window`). The clock is
 * monotonic; a part is the time from its start to the next part's. Only the forward path of a run that was not
 * interrupted is timed: a recovery re-enters without it.
 */
export interface WindowRecord {
  /**
   * In order, each where it happened: `handoff` (request → old process gone), `stop`, `consume`, `checkpoint`,
   * `finalize`, `start`, `start-to-healthy`. `why`: a part that is neither the service's own stop nor its start says
   * why it is in the window and not before the stop (issue: everything else out of the window).
   */
  parts: Array<{ part: string; ms: number; why?: string }>;
  /** The sum of the parts: the outage as this run saw it. */
  totalMs: number;
}

/** A watch of the serving process's health URL (service/health.ts watchServing): when it first failed, else now. */
export interface ServingWatch {
  stop(): number;
}

export class StopWindow {
  private opened: number | undefined;
  private closed: number | undefined;
  private readonly marks: Array<{ part: string; at: number; why?: string }> = [];
  private serving: ServingWatch | undefined;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /**
   * Watch the serving process from now (the flip) until the window opens: it opens no later than the first answer
   * that was not healthy. A process may stop serving before it is asked to: OpenClaw 2026.9.6 reads its installation
   * (`current`) every 30 s and restarts on its own once the flip has changed it.
   */
  watch(serving: ServingWatch): void {
    this.serving = serving;
  }

  /** When the watched process first stopped serving, capped at now; now when nothing watched it. */
  private stoppedServing(fallback: number): number {
    const seen = this.serving?.stop();
    this.serving = undefined;
    return Math.min(seen ?? fallback, this.now());
  }

  /** Begin `part`: opens the window when it is not yet open (the serving process stops serving from here). */
  open(part: string): void {
    if (this.closed !== undefined) return;
    if (this.opened === undefined) {
      this.opened = this.stoppedServing(this.now());
      this.marks.push({ part, at: this.opened });
      return;
    }
    this.next(part);
  }

  /**
   * Open the window with `part` begun at `at`, a time of this clock already past (when the serving process was seen to
   * stop serving), or where the watch saw it stop when there is one; nothing when it is open already.
   */
  openAt(part: string, at: number): void {
    if (this.opened !== undefined || this.closed !== undefined) return;
    this.opened = this.stoppedServing(at);
    this.marks.push({ part, at: this.opened });
  }

  /** The watch ended without opening the window (a run that goes back before anything stopped). */
  unwatch(): void {
    this.serving?.stop();
    this.serving = undefined;
  }

  /** Begin `part` if the window is open (a step that is outside the window when nothing was stopped yet). */
  next(part: string): void {
    if (this.opened === undefined || this.closed !== undefined) return;
    if (this.marks.at(-1)?.part === part) return;
    this.marks.push({ part, at: this.now() });
  }

  /** Why the part under way is in the window (WindowRecord `why`), when it is open. */
  explain(why: string): void {
    const mark = this.marks.at(-1);
    if (mark && this.closed === undefined) mark.why = why;
  }

  /** The new process answered healthy `at` (a time of this clock; default now): the window ends there. */
  close(at = this.now()): void {
    if (this.opened === undefined || this.closed !== undefined) return;
    this.closed = Math.max(at, this.marks.at(-1)?.at ?? at);
  }

  /** The parts, once opened and closed. */
  record(): WindowRecord | undefined {
    if (this.opened === undefined || this.closed === undefined) return undefined;
    const parts = this.marks.map((mark, i) => ({
      part: mark.part,
      ms: Math.round((this.marks[i + 1]?.at ?? this.closed!) - mark.at),
      ...(mark.why && { why: mark.why }),
    }));
    return { parts, totalMs: Math.round(this.closed - this.opened) };
  }

  /** Whether the serving process was asked to go already (and the new one not yet healthy). */
  get isOpen(): boolean {
    return this.opened !== undefined && this.closed === undefined;
  }

  /** This clock's now, for a caller that records when something happened. */
  time(): number {
    return this.now();
  }
}
