/**
 * What `spotcheck run` prints while runs progress: a redrawn table on a TTY, one line per order transition
 * otherwise, and (with `--verbose`) the steps' output, each line prefixed with `[workflow/order] ` as act does.
 */
import { renderProgressTable, renderTransitionLine } from '../core/render/progress.ts';
import type { OrderRecord, OrderState, RunRecord } from '../core/types.ts';
import type { Reporter } from '../orchestrator.ts';

export interface ProgressReporterOptions {
  /** Redraw a table in place; otherwise print one line per transition. */
  readonly tty: boolean;
  readonly width: number;
  readonly now?: () => number;
}

/**
 * Where an order's record stands in its life: attempt first (a retry starts over at `queued`), then the state's
 * place in queued → dispatching → running → interrupted → final. Reports reach the reporter from concurrent
 * drives (a launch's `dispatching` notification may be delivered after the runner's own `running` and even
 * `succeeded`), so a record that is not later than the one already shown is stale and is dropped.
 */
function progressKey(order: OrderRecord): number {
  // A queued order held back by the capacity cap is news ("waiting"), though its state did not change.
  const waiting = order.state === 'queued' && order.waitingSince !== undefined ? 1 : 0;
  return order.attempt * 10 + RANK[order.state] + waiting;
}

const RANK = {
  queued: 0,
  dispatching: 2,
  running: 3,
  interrupted: 4,
  succeeded: 5,
  failed: 5,
  timed_out: 5,
  cancelled: 5,
  skipped: 5,
} as const satisfies Record<OrderState, number>;

type View = { run: RunRecord; orders: Map<string, OrderRecord> };

export class ProgressReporter implements Reporter {
  readonly #out: NodeJS.WritableStream;
  readonly #tty: boolean;
  readonly #width: number;
  readonly #now: () => number;
  readonly #views = new Map<string, View>();
  readonly #pending = new Set<string>();
  /** Unfinished last line of each order's streamed output, keyed by run and order. */
  readonly #partial = new Map<string, string>();
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;
  #resolve: (() => void) | undefined;
  #stopped = false;

  constructor(out: NodeJS.WritableStream, options: ProgressReporterOptions) {
    this.#out = out;
    this.#tty = options.tty;
    this.#width = options.width;
    this.#now = options.now ?? Date.now;
  }

  expect(runId: string): void {
    this.#pending.add(runId);
  }

  seed(run: RunRecord, orders: readonly OrderRecord[]): void {
    const view = this.#view(run);
    for (const order of orders) if (!view.orders.has(order.id)) view.orders.set(order.id, order);
    this.#draw();
  }

  runs(): RunRecord[] {
    return [...this.#views.values()].map((v) => v.run);
  }

  /** `workflow/order name`, as in the transition lines; the order id when the order is not known yet. */
  label(runId: string, orderId: string): string {
    const view = this.#views.get(runId);
    const order = view?.orders.get(orderId);
    return view && order ? `${view.run.workflowName}/${order.name}` : orderId;
  }

  orderChanged(run: RunRecord, order: OrderRecord): Promise<void> {
    const view = this.#view(run);
    const shown = view.orders.get(order.id);
    // Stale or repeated (see progressKey), or after the summary: nothing new to show.
    if (this.#stopped || (shown !== undefined && progressKey(order) <= progressKey(shown))) {
      // The same state may come back with more detail (a reason, a handle): keep it for the table.
      if (shown !== undefined && progressKey(order) === progressKey(shown)) view.orders.set(order.id, order);
      return Promise.resolve();
    }
    view.orders.set(order.id, order);
    if (this.#tty) this.#draw();
    else this.#out.write(renderTransitionLine(run, order, this.#now()) + '\n');
    return Promise.resolve();
  }

  runChanged(run: RunRecord): Promise<void> {
    this.#view(run);
    if (run.status !== 'running' && run.status !== 'pending') {
      this.#pending.delete(run.runId);
      if (this.#pending.size === 0) this.#resolve?.();
    }
    return Promise.resolve();
  }

  /**
   * Step output of one order, printed line by line with a `[workflow/order] ` prefix; a line split across chunks is
   * held until its end arrives (or `endLog`), so two orders' output never mixes within a line.
   */
  log(runId: string, orderId: string, chunk: string): void {
    if (this.#stopped) return;
    const key = `${runId}\0${orderId}`;
    const text = (this.#partial.get(key) ?? '') + chunk;
    const cut = text.lastIndexOf('\n');
    this.#partial.set(key, text.slice(cut + 1));
    if (cut < 0) return;
    const prefix = `[${this.label(runId, orderId)}] `;
    this.#out.write(
      text
        .slice(0, cut)
        .split('\n')
        .map((line) => prefix + line.replace(/\r$/, '') + '\n')
        .join(''),
    );
  }

  /** Prints the held last line of an order's output (the order ended without a final newline). */
  endLog(runId: string, orderId: string): void {
    const key = `${runId}\0${orderId}`;
    const rest = this.#partial.get(key);
    this.#partial.delete(key);
    if (rest !== undefined && rest !== '' && !this.#stopped) this.log(runId, orderId, rest + '\n');
  }

  allFinished(): Promise<void> {
    if (this.#tty) this.#timer = setInterval(() => this.#draw(), 500);
    return this.#pending.size === 0 ? Promise.resolve() : new Promise((resolve) => (this.#resolve = resolve));
  }

  /** Draws the last frame; from here on nothing more is printed (the summary follows). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    for (const key of [...this.#partial.keys()]) {
      const [runId = '', orderId = ''] = key.split('\0');
      this.endLog(runId, orderId);
    }
    if (this.#tty) this.#draw();
    this.#stopped = true;
  }

  #view(run: RunRecord): View {
    let view = this.#views.get(run.runId);
    if (!view) this.#views.set(run.runId, (view = { run, orders: new Map() }));
    // A run never goes back to running once it has ended.
    if (run.status !== 'running' || view.run.status === 'running' || view.run.status === 'pending') view.run = run;
    return view;
  }

  #draw(): void {
    if (!this.#tty || this.#stopped) return;
    const views = [...this.#views.values()].map((v) => ({ run: v.run, orders: [...v.orders.values()] }));
    const text = renderProgressTable(views, this.#now(), { width: this.#width, color: true });
    // Move up over the previous frame and clear it, then print the new one.
    const up = this.#drawn > 0 ? `\x1b[${this.#drawn}F\x1b[0J` : '';
    this.#out.write(up + text + '\n');
    this.#drawn = text.split('\n').length;
  }
}
