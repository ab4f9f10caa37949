/**
 * Step summaries (`$GITHUB_STEP_SUMMARY`), each kept as its own document beside the order: GitHub lets a step write
 * 1 MiB of Markdown, and a DynamoDB item (the order record among them) holds 400 KB, so summaries never ride on the
 * order record; it only marks the steps that wrote one (`hasSummary`). A stored summary is cut to
 * STORED_SUMMARY_BYTES (and says so) and lives as long as its run.
 */
import { cutSummary } from '../core/step-results.ts';
import type { OrderRecord } from '../core/types.ts';
import type { Store } from './store.ts';

export const STEP_SUMMARY_KIND = 'step-summary';

export interface StepSummaryRef {
  readonly runId: string;
  readonly orderId: string;
  readonly attempt: number;
  readonly index: number;
}

export interface StoredStepSummary {
  readonly index: number;
  readonly name: string;
  readonly markdown: string;
}

const keyOf = (ref: StepSummaryRef): string =>
  `${ref.runId}/${ref.orderId}/${String(ref.attempt)}/${String(ref.index)}`;

/**
 * Writes (or rewrites: a re-sent report carries the same text) one step's summary. Unconditional by design: the
 * order attempt's agent is the only writer of its keys, and the callback route already refused a finished order.
 */
export async function writeStepSummary(
  store: Pick<Store, 'getDoc' | 'putDoc'>,
  ref: StepSummaryRef,
  markdown: string,
  expiresAt: number,
): Promise<void> {
  const key = keyOf(ref);
  const value = { markdown: cutSummary(markdown) };
  const existing = await store.getDoc(STEP_SUMMARY_KIND, key);
  if (existing?.value['markdown'] === value.markdown) return;
  await store.putDoc(STEP_SUMMARY_KIND, key, value, {
    expiresAt,
    ...(existing === undefined ? {} : { ifVersion: existing.version }),
  });
}

/** The summaries of an order's current attempt, in step order (one read per step that wrote one). */
export async function readStepSummaries(
  store: Pick<Store, 'getDoc'>,
  order: Pick<OrderRecord, 'runId' | 'id' | 'attempt' | 'stepResults'>,
): Promise<StoredStepSummary[]> {
  const steps = (order.stepResults ?? []).filter((s) => s.hasSummary === true);
  const docs = await Promise.all(
    steps.map((s) =>
      store.getDoc(
        STEP_SUMMARY_KIND,
        keyOf({ runId: order.runId, orderId: order.id, attempt: order.attempt, index: s.index }),
      ),
    ),
  );
  return steps.flatMap((s, i) => {
    const markdown = docs[i]?.value['markdown'];
    return typeof markdown === 'string' ? [{ index: s.index, name: s.name, markdown }] : [];
  });
}
