/**
 * What the bot counts, one instance per app (its own prom-client Registry, never the global one, so two apps in
 * one process — tests, the Lambda's and a server's — never share a number):
 * - webhook deliveries by forge, event and outcome, and how long the answer took (histogram);
 * - order transitions by the state reached (the orchestrator's `notify` effects, through its Reporter);
 * - orders by non-final state and the queue depth (orders waiting for capacity), read from the store at scrape time
 *   so every replica reports the same, shared truth;
 * - launch errors by runner and error code (the runners' `launch`, wrapped).
 *
 * Two ways out: Prometheus text for `GET /metrics` on a server, and CloudWatch embedded metric format lines on
 * Lambda, where nothing scrapes and the log is the metrics pipe (CloudWatch user guide, "Specification: Embedded
 * metric format"): `flushEmf` writes what changed since the previous flush, one JSON line per dimension set.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Runner } from '../../runners/runner.ts';
import type { OrderRecord, OrderState, RunRecord } from '../core/types.ts';
import type { Reporter } from '../orchestrator.ts';
import type { IncomingRequest, Router, RouterResponse } from './router.ts';

export const DELIVERY_OUTCOMES = [
  'accepted',
  'duplicate',
  'ignored',
  'bad-signature',
  'bad-request',
  'too-large',
  'failed',
] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

/** The states an order can be in and still count as "in the system" (final ones are counted as transitions). */
export const LIVE_ORDER_STATES = ['dispatching', 'running', 'interrupted'] as const satisfies readonly OrderState[];

/** What the store says at scrape (or tick) time. */
export interface OrderCounts {
  /** Queued orders held back for capacity or max-parallel. */
  readonly waiting: number;
  readonly live: Readonly<Partial<Record<(typeof LIVE_ORDER_STATES)[number], number>>>;
}

export interface MetricsOptions {
  /** Reads the gauges' values; unset, the gauges stay at zero (a unit test, or a transport that cannot afford it). */
  readonly orderCounts?: () => Promise<OrderCounts>;
}

export interface SpotcheckMetrics {
  readonly registry: Registry;
  delivery(forge: string, event: string, outcome: DeliveryOutcome): void;
  webhookAnswered(forge: string, seconds: number): void;
  orderReached(state: OrderState): void;
  launchFailed(runner: string, code: string): void;
  /** Sets the gauges (the scheduled handler, which read the store anyway). */
  setOrderCounts(counts: OrderCounts): void;
  /** Prometheus text exposition format; reads the store for the gauges first. */
  render(): Promise<string>;
  /** EMF lines for what changed since the last flush (and the gauges, when set since); resets the deltas. */
  flushEmf(timestampMs: number): string[];
}

/** The CloudWatch namespace of the EMF lines. */
export const EMF_NAMESPACE = 'spotcheck';
/** A single EMF metric takes at most 100 values (the EMF specification's array limit). */
const EMF_MAX_VALUES = 100;

type Unit = 'Count' | 'Seconds';

export function createMetrics(options: MetricsOptions = {}): SpotcheckMetrics {
  const registry = new Registry();
  const registers = [registry];
  const deliveries = new Counter({
    name: 'spotcheck_webhook_deliveries_total',
    help: 'Webhook deliveries by forge, event and outcome',
    labelNames: ['forge', 'event', 'outcome'] as const,
    registers,
  });
  const answers = new Histogram({
    name: 'spotcheck_webhook_answer_seconds',
    help: 'Time from a webhook request to its answer',
    labelNames: ['forge'] as const,
    // GitHub gives up on a delivery after 10 s ("Handling webhook deliveries"): the buckets resolve below that.
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const transitions = new Counter({
    name: 'spotcheck_order_transitions_total',
    help: 'Orders reaching a state',
    labelNames: ['state'] as const,
    registers,
  });
  const launchErrors = new Counter({
    name: 'spotcheck_launch_errors_total',
    help: 'Runner launch errors by runner and error code',
    labelNames: ['runner', 'code'] as const,
    registers,
  });
  const orders = new Gauge({
    name: 'spotcheck_orders',
    help: 'Orders in a non-final state, across every replica (from the store)',
    labelNames: ['state'] as const,
    registers,
  });
  const queue = new Gauge({
    name: 'spotcheck_queue_depth',
    help: 'Orders waiting for capacity, across every replica (from the store)',
    registers,
  });

  // The EMF side: counts since the last flush, keyed by metric and dimensions.
  const pending = new Map<string, { name: string; unit: Unit; dims: Record<string, string>; values: number[] }>();
  let gauges: OrderCounts | undefined;
  const add = (name: string, unit: Unit, dims: Record<string, string>, value: number, sum: boolean): void => {
    const key = JSON.stringify([name, dims]);
    const entry = pending.get(key) ?? { name, unit, dims, values: [] };
    pending.set(key, entry);
    if (sum && entry.values.length > 0) entry.values[0]! += value;
    else if (entry.values.length < EMF_MAX_VALUES) entry.values.push(value);
  };

  const setOrderCounts = (counts: OrderCounts): void => {
    queue.set(counts.waiting);
    for (const state of LIVE_ORDER_STATES) orders.set({ state }, counts.live[state] ?? 0);
    gauges = counts;
  };

  return {
    registry,
    delivery(forge, event, outcome) {
      deliveries.inc({ forge, event, outcome });
      add('WebhookDeliveries', 'Count', { forge, event, outcome }, 1, true);
    },
    webhookAnswered(forge, seconds) {
      answers.observe({ forge }, seconds);
      add('WebhookAnswerTime', 'Seconds', { forge }, seconds, false);
    },
    orderReached(state) {
      transitions.inc({ state });
      add('OrderTransitions', 'Count', { state }, 1, true);
    },
    launchFailed(runner, code) {
      launchErrors.inc({ runner, code });
      add('LaunchErrors', 'Count', { runner, code }, 1, true);
    },
    setOrderCounts,
    async render() {
      if (options.orderCounts) setOrderCounts(await options.orderCounts());
      return registry.metrics();
    },
    flushEmf(timestampMs) {
      const lines = [...pending.values()].map((entry) =>
        emfLine(timestampMs, entry.dims, [{ name: entry.name, unit: entry.unit, value: entry.values }]),
      );
      if (gauges !== undefined) {
        lines.push(emfLine(timestampMs, {}, [{ name: 'QueueDepth', unit: 'Count', value: [gauges.waiting] }]));
        for (const state of LIVE_ORDER_STATES)
          lines.push(
            emfLine(timestampMs, { state }, [{ name: 'Orders', unit: 'Count', value: [gauges.live[state] ?? 0] }]),
          );
      }
      pending.clear();
      gauges = undefined;
      return lines;
    },
  };
}

/**
 * One EMF line: the `_aws` metadata names the metrics and their one dimension set; the dimension values and metric
 * values are root members (an array is a set of observations, a single value is written as a number).
 */
export function emfLine(
  timestampMs: number,
  dims: Readonly<Record<string, string>>,
  metrics: readonly { readonly name: string; readonly unit: Unit; readonly value: readonly number[] }[],
): string {
  const root: Record<string, unknown> = {
    _aws: {
      Timestamp: timestampMs,
      CloudWatchMetrics: [
        {
          Namespace: EMF_NAMESPACE,
          Dimensions: [Object.keys(dims)],
          Metrics: metrics.map((m) => ({ Name: m.name, Unit: m.unit })),
        },
      ],
    },
    ...dims,
  };
  for (const m of metrics) root[m.name] = m.value.length === 1 ? m.value[0] : [...m.value];
  return JSON.stringify(root);
}

/**
 * Router middleware: times webhook answers and classifies their outcome from the answer the route gave (status
 * and, for a 200, its JSON `status`/`ignored`), so the routes themselves stay free of metrics.
 */
export function instrumentRouter(
  router: Router,
  metrics: SpotcheckMetrics,
  opts: { readonly now: () => number; readonly webhookPaths: Readonly<Record<string, string>> },
): Router {
  return {
    async handle(req: IncomingRequest): Promise<RouterResponse> {
      const forge = req.method === 'POST' ? opts.webhookPaths[req.path] : undefined;
      if (forge === undefined) return router.handle(req);
      const started = opts.now();
      const response = await router.handle(req);
      metrics.webhookAnswered(forge, (opts.now() - started) / 1000);
      const outcome = deliveryOutcome(response);
      metrics.delivery(forge, eventLabel(req.headers[`x-${forge}-event`], outcome), outcome);
      return response;
    },
  };
}

/**
 * The events a forge sends that spotcheck has a use for; any other name is `other`. Bounded by construction: the
 * header is the caller's to choose, and each new label value is a time series held in memory for good (30,000
 * unsigned requests with new words made 30,004 series, +160 MB).
 */
const KNOWN_EVENTS: ReadonlySet<string> = new Set([
  'ping',
  'push',
  'create',
  'delete',
  'pull_request',
  'pull_request_sync',
  'pull_request_comment',
  'issue_comment',
  'workflow_job',
  'installation',
  'installation_repositories',
]);

/** An event name as a metric label: known names after the signature held; else `other`, or `unverified` before. */
export function eventLabel(header: string | undefined, outcome: DeliveryOutcome): string {
  // Refused before or at the signature check: the header is unauthenticated, so it names nothing.
  if (outcome === 'bad-signature' || outcome === 'bad-request' || outcome === 'too-large') return 'unverified';
  return header !== undefined && KNOWN_EVENTS.has(header) ? header : 'other';
}

export function deliveryOutcome(response: RouterResponse): DeliveryOutcome {
  switch (response.status) {
    case 202:
      return 'accepted';
    case 200: {
      const body = typeof response.body === 'string' ? response.body : '';
      if (body.includes('"duplicate"')) return 'duplicate';
      return body.includes('"ignored"') ? 'ignored' : 'accepted';
    }
    case 401:
      return 'bad-signature';
    case 413:
      return 'too-large';
    default:
      return response.status >= 500 ? 'failed' : 'bad-request';
  }
}

/** The orchestrator's Reporter with every `notify` counted by the state the order reached. */
export function instrumentReporter(reporter: Reporter, metrics: SpotcheckMetrics): Reporter {
  return {
    orderChanged(run: RunRecord, order: OrderRecord) {
      metrics.orderReached(order.state);
      return reporter.orderChanged(run, order);
    },
    runChanged: (run) => reporter.runChanged(run),
  };
}

/** The runners with launch errors counted (RunnerError's code, or `unknown`); everything else passes through. */
export function instrumentRunners(
  runners: Partial<Record<Runner['kind'], Runner>>,
  metrics: SpotcheckMetrics,
): Partial<Record<Runner['kind'], Runner>> {
  const wrapped: Partial<Record<Runner['kind'], Runner>> = {};
  for (const [kind, runner] of Object.entries(runners) as [Runner['kind'], Runner][]) {
    wrapped[kind] = new Proxy(runner, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (property === 'launch') {
          return async (...args: Parameters<Runner['launch']>) => {
            try {
              return await target.launch(...args);
            } catch (error) {
              const code = (error as { code?: unknown }).code;
              metrics.launchFailed(
                target.kind,
                typeof code === 'string' && /^[\w.-]{1,64}$/.test(code) ? code : 'unknown',
              );
              throw error;
            }
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
  return wrapped;
}
