/**
 * A workflow file's diagnostics, collected while it is read: every problem at once, each once, in file order, at
 * most MAX_DIAGNOSTICS_PER_FILE of them (src/core/limits.ts); plus the helpers that quote text and sizes in them.
 */
import { MAX_DIAGNOSTICS_PER_FILE } from '../limits.ts';
import type { Diagnostic, SourcePos } from '../types.ts';

/**
 * Something valid the user may not expect, never an error: `notice` is always shown (a GitHub event spotcheck does
 * not act on); `ignored` is shown with `validate --verbose` (a key spotcheck accepts but does not use).
 */
export interface WorkflowNotice extends Diagnostic {
  readonly level: 'notice' | 'ignored';
}

/** One per file: the readers report into it and go on, so all of a file's problems are found in one pass. */
export class DiagnosticSink {
  private readonly seen = new Set<string>();
  private readonly list: Diagnostic[] = [];
  private readonly noticeList: WorkflowNotice[] = [];
  constructor(readonly file: string) {}

  get count(): number {
    return this.list.length;
  }

  error(pos: SourcePos, message: string): void {
    // An alias expands one piece of text in several places; report each problem of it once.
    const key = `${pos.line}:${pos.col}:${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push({ file: this.file, line: pos.line, col: pos.col, message });
  }

  /** A note that does not make the file invalid (see WorkflowNotice). */
  notice(pos: SourcePos, message: string, level: WorkflowNotice['level'] = 'notice'): void {
    this.noticeList.push({ file: this.file, line: pos.line, col: pos.col, message, level });
  }

  notices(): WorkflowNotice[] {
    return [...this.noticeList].sort((a, b) => a.line - b.line || a.col - b.col);
  }

  done(): Diagnostic[] {
    const sorted = [...this.list].sort((a, b) => a.line - b.line || a.col - b.col);
    if (sorted.length <= MAX_DIAGNOSTICS_PER_FILE) return sorted;
    const kept = sorted.slice(0, MAX_DIAGNOSTICS_PER_FILE);
    const last = kept[kept.length - 1] as Diagnostic;
    kept.push({
      file: this.file,
      line: last.line,
      col: last.col,
      message: `… and ${sorted.length - MAX_DIAGNOSTICS_PER_FILE} more problems in this file (only the first ${MAX_DIAGNOSTICS_PER_FILE} are shown)`,
      omitted: sorted.length - MAX_DIAGNOSTICS_PER_FILE,
    });
    return kept;
  }
}

export function kib(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** 5368709120 → `5 GiB`, 5767168 → `5.5 MiB`: a size a reader takes in at a glance. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'] as const;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${Number.isInteger(value) ? value.toString() : value.toFixed(1)} ${units[unit] ?? 'bytes'}`;
}

/** A piece of the file quoted in a message: on one line, at most 60 characters. */
export function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > 60 ? `${oneLine.slice(0, 57)}…` : oneLine;
}
