import type { Annotation, StepResult } from './types.ts';

/**
 * The step results of a running order after one more live `step` report: a result replaces the one with the same
 * index (a re-sent report changes nothing), and the list stays in step order whatever order the reports arrived in.
 * The `finished` report's full list replaces this one when the order ends.
 */
export function withStepResult(steps: readonly StepResult[], result: StepResult): StepResult[] {
  return [...steps.filter((s) => s.index !== result.index), result].sort((a, b) => a.index - b.index);
}

// ---------------------------------------------------------------------------------------------------------------
// What the command protocol produces: annotations and step summaries, and what the server keeps of them.

/**
 * GitHub's cap on one step's `$GITHUB_STEP_SUMMARY` ("Step summaries are limited to 1MiB"): an agent report with a
 * larger summary is refused at the edge, the agent caps it first.
 */
export const MAX_STEP_SUMMARY_BYTES = 1024 * 1024;

/**
 * What the server keeps of one step summary. A summary is stored as its own document, not on the order record, and a
 * DynamoDB item holds at most 400 KB: a longer summary is cut here, and the cut says so at its end.
 */
export const STORED_SUMMARY_BYTES = 256 * 1024;

/** Annotations one step may report (GitHub's runner sends at most 10 errors and 10 warnings per step, and notices). */
export const MAX_ANNOTATIONS_PER_STEP = 50;

/** Annotations the server keeps per order: GitHub keeps 50 per job. Later ones are dropped. */
export const MAX_ANNOTATIONS_PER_ORDER = 50;

/** Bytes of annotation text (message, title, file) kept per order, so annotations never crowd a 400 KB order item. */
export const MAX_ANNOTATION_BYTES_PER_ORDER = 64 * 1024;

/** Per annotation, in characters: what the edge accepts. */
export const MAX_ANNOTATION_MESSAGE_LENGTH = 4096;
export const MAX_ANNOTATION_TITLE_LENGTH = 1024;
export const MAX_ANNOTATION_FILE_LENGTH = 1024;

const utf8 = new TextEncoder();
const byteLength = (text: string): number => utf8.encode(text).length;

/** Whether a step wrote a summary worth showing (GitHub shows nothing for an empty one either). */
function hasText(summary: string | undefined): summary is string {
  return summary !== undefined && summary.trim() !== '';
}

/** The summaries a report carries, by step index, to be stored apart from the order. */
export function summariesOf(steps: readonly StepResult[]): { readonly index: number; readonly markdown: string }[] {
  return steps.flatMap((s) => (hasText(s.summary) ? [{ index: s.index, markdown: s.summary }] : []));
}

/**
 * A step result as the order record keeps it: without its summary (stored apart), marked `hasSummary` when it wrote
 * one now or an earlier report of the same step did (an agent may send the summary with the live `step` report only
 * and leave it out of `finished`).
 */
export function withoutSummary(result: StepResult, earlier?: StepResult): StepResult {
  const { summary, hasSummary: _sent, ...rest } = result;
  return hasText(summary) || earlier?.hasSummary === true ? { ...rest, hasSummary: true } : rest;
}

/**
 * Step results as the order record keeps them: summaries out (see withoutSummary, `earlier` being what the record
 * holds now), and at most MAX_ANNOTATIONS_PER_ORDER annotations and MAX_ANNOTATION_BYTES_PER_ORDER of their text,
 * the first ones in step order (later ones are dropped, as GitHub drops those past its per-job limit).
 */
export function keptStepResults(steps: readonly StepResult[], earlier: readonly StepResult[] = []): StepResult[] {
  const before = new Map(earlier.map((s) => [s.index, s]));
  let count = 0;
  let bytes = 0;
  return steps.map((step) => {
    const lean = withoutSummary(step, before.get(step.index));
    if (lean.annotations === undefined) return lean;
    const kept: Annotation[] = [];
    for (const a of lean.annotations) {
      const size = byteLength(a.message) + byteLength(a.title ?? '') + byteLength(a.file ?? '');
      if (count >= MAX_ANNOTATIONS_PER_ORDER || bytes + size > MAX_ANNOTATION_BYTES_PER_ORDER) break;
      kept.push(a);
      count += 1;
      bytes += size;
    }
    const { annotations: _all, ...rest } = lean;
    return kept.length === 0 ? rest : { ...rest, annotations: kept };
  });
}

/**
 * A summary as stored: at most `maxBytes` of UTF-8, cut at a line break when one is near the end (so a table row or
 * a paragraph is not cut in half), and a line saying it was cut.
 */
export function cutSummary(markdown: string, maxBytes: number = STORED_SUMMARY_BYTES): string {
  const bytes = utf8.encode(markdown);
  if (bytes.length <= maxBytes) return markdown;
  const note = `\n\n*The summary was cut here: ${String(Math.round(bytes.length / 1024))} KiB written, ${String(Math.round(maxBytes / 1024))} KiB kept.*\n`;
  // A cut in the middle of a character decodes to U+FFFD at the end: dropped.
  let head = new TextDecoder().decode(bytes.subarray(0, maxBytes - byteLength(note)));
  while (head.endsWith('\uFFFD')) head = head.slice(0, -1);
  const lastBreak = head.lastIndexOf('\n');
  return `${lastBreak > head.length - 4096 ? head.slice(0, lastBreak) : head}${note}`;
}

export interface AnnotationCounts {
  readonly error: number;
  readonly warning: number;
  readonly notice: number;
}

/** Annotations of an order's steps, counted by level. */
export function countAnnotations(steps: readonly StepResult[]): AnnotationCounts {
  const counts = { error: 0, warning: 0, notice: 0 };
  for (const step of steps) for (const a of step.annotations ?? []) counts[a.level] += 1;
  return counts;
}

/** `2 errors, 1 warning` (levels with none are left out; notices only when `notices`); '' when there are none. */
export function annotationCountText(counts: AnnotationCounts, notices = true): string {
  const part = (n: number, word: string): string => (n === 0 ? '' : `${String(n)} ${word}${n === 1 ? '' : 's'}`);
  return [part(counts.error, 'error'), part(counts.warning, 'warning'), notices ? part(counts.notice, 'notice') : '']
    .filter((p) => p !== '')
    .join(', ');
}

/** `file:line:col` as GitHub shows an annotation's place ('' when it names no file). */
export function annotationPlace(a: Annotation): string {
  if (a.file === undefined || a.file === '') return '';
  if (a.line === undefined) return a.file;
  return `${a.file}:${String(a.line)}${a.col === undefined ? '' : `:${String(a.col)}`}`;
}
