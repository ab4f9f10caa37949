import type { OrderSpec, RunPlan } from '../../src/core/types.ts';
import { makeSpec } from './records.ts';

/** One order of a plan (records.ts). */
export const spec = makeSpec;

export function plan(orders: OrderSpec[], overrides: Partial<RunPlan> = {}): RunPlan {
  return { file: '.spotcheck/workflows/ci.yml', workflowName: 'ci', orders, ...overrides };
}

/**
 * A layered graph: `layers` layers of `width` orders; each order after the first layer needs `fanIn` orders of the
 * layer before (its neighbours, wrapping). The engine benchmark's shape.
 */
export function layeredPlan(layers: number, width: number, fanIn: number): RunPlan {
  const orders: OrderSpec[] = [];
  for (let l = 0; l < layers; l++) {
    for (let w = 0; w < width; w++) {
      const job = `l${l}w${w}`;
      const needs =
        l === 0 ? [] : [...new Set(Array.from({ length: fanIn }, (_, k) => `l${l - 1}w${(w + k) % width}`))];
      orders.push(spec(job, { needs, needsOrders: needs }));
    }
  }
  return plan(orders);
}
