import { describe, expect, it } from 'vitest';
import {
  INDIVIDUAL_ORDERS_UP_TO,
  STATE_COLORS,
  graphShapeKey,
  layoutGraph,
  orderGraph,
  renderGraphSvg,
  type Box,
  type Graph,
  type GraphNode,
} from '../../src/core/render/graph-layout.ts';
import type { OrderRecord, OrderState } from '../../src/core/types.ts';
import { makeOrder } from '../helpers/records.ts';

function node(id: string, over: Partial<GraphNode> = {}): GraphNode {
  return { id, label: id, detail: 'queued', state: 'queued', title: id, href: `/runs/r/orders/${id}`, ...over };
}

/** `layers` × `width` nodes, each after the first layer needing `fanIn` of the layer before (the engine bench shape). */
function layered(layers: number, width: number, fanIn: number): Graph {
  const nodes: GraphNode[] = [];
  const edges: { from: string; to: string }[] = [];
  for (let l = 0; l < layers; l++) {
    for (let w = 0; w < width; w++) {
      nodes.push(node(`l${String(l)}w${String(w)}`));
      if (l > 0)
        for (let k = 0; k < fanIn; k++)
          edges.push({ from: `l${String(l - 1)}w${String((w + k) % width)}`, to: `l${String(l)}w${String(w)}` });
    }
  }
  return { nodes, edges };
}

function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

describe('layoutGraph', () => {
  it.each([
    ['4 layers of 3, fan-in 2', layered(4, 3, 2)],
    ['8 layers of 8, fan-in 3', layered(8, 8, 3)],
    ['16 layers of 16, fan-in 3 (256 nodes)', layered(16, 16, 3)],
  ])('places %s without overlaps, needs left of what needs them, inside the drawing', (_name, graph) => {
    const g = layoutGraph(graph);
    const boxes = [...g.nodes.values()];
    expect(boxes).toHaveLength(graph.nodes.length);
    const overlapping: [number, number][] = [];
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) if (overlaps(boxes[i]!, boxes[j]!)) overlapping.push([i, j]);
    expect(overlapping).toEqual([]);
    const backwards = graph.edges.filter((e) => {
      const from = g.nodes.get(e.from)!;
      return from.x + from.width >= g.nodes.get(e.to)!.x;
    });
    expect(backwards).toEqual([]);
    const outside = boxes.filter((b) => b.x < 0 || b.y < 0 || b.x + b.width > g.width || b.y + b.height > g.height);
    expect(outside).toEqual([]);
    expect(g.edges).toHaveLength(graph.edges.length);
    for (const e of g.edges) expect(e.points.length).toBeGreaterThanOrEqual(2);
  });

  it('is deterministic: the same graph gives the same geometry and the same SVG', () => {
    const graph = layered(6, 5, 2);
    const a = layoutGraph(graph);
    const b = layoutGraph(graph);
    expect([...b.nodes]).toEqual([...a.nodes]);
    expect(b.edges).toEqual(a.edges);
    const text = { title: 't', description: 'd' };
    expect(renderGraphSvg(graph, b, text)).toBe(renderGraphSvg(graph, a, text));
  });

  it('ignores self-edges, duplicate edges and edges to unknown nodes; survives ids like __proto__', () => {
    const graph: Graph = {
      nodes: [node('__proto__'), node('constructor')],
      edges: [
        { from: '__proto__', to: 'constructor' },
        { from: '__proto__', to: 'constructor' },
        { from: 'constructor', to: 'constructor' },
        { from: 'ghost', to: 'constructor' },
      ],
    };
    const g = layoutGraph(graph);
    expect(g.nodes.size).toBe(2);
    expect(g.edges).toHaveLength(1);
  });

  it('lays out an empty graph', () => {
    const g = layoutGraph({ nodes: [], edges: [] });
    expect(g.nodes.size).toBe(0);
    expect(renderGraphSvg({ nodes: [], edges: [] }, g, { title: 'empty', description: '' })).toContain('<svg');
  });
});

describe('renderGraphSvg', () => {
  const hostile = '<script>alert("x")</script> & \'q\'';
  const graph: Graph = {
    nodes: [
      node('a', { label: hostile, detail: hostile, title: hostile, state: 'failed' }),
      node('b', { state: 'succeeded', href: 'javascript:alert(1)' }),
      node('c', { state: 'running', href: '//evil.example/x' }),
    ],
    edges: [
      { from: 'a', to: 'b' },
      { from: 'b', to: 'c' },
    ],
  };
  const svg = renderGraphSvg(graph, layoutGraph(graph), { title: `graph ${hostile}`, description: hostile });

  it('escapes every text and attribute', () => {
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('"x"');
    expect(svg).toContain('&lt;script&gt;');
    expect(svg).toContain('&#39;q&#39;');
  });

  it('links only same-site paths and http(s) URLs', () => {
    expect(svg).toContain('<a href="/runs/r/orders/a"');
    expect(svg).not.toContain('javascript:');
    expect(svg).not.toContain('//evil.example');
  });

  it('colours each node by state and says the state in text', () => {
    for (const [id, state] of [
      ['a', 'failed'],
      ['b', 'succeeded'],
      ['c', 'running'],
    ] as const) {
      const m = new RegExp(
        `data-node="${id}" data-state="${state}"><title>[^<]*</title><rect [^>]*fill="([^"]+)"`,
      ).exec(svg);
      expect(m?.[1]).toBe(STATE_COLORS[state].fill);
    }
    expect(svg).toContain('<title id="graph-title">');
    expect(svg).toContain('<desc id="graph-desc">');
    expect(svg.match(/marker-end=/g)).toHaveLength(2);
  });
});

describe('graphShapeKey', () => {
  it('ignores labels and states, not nodes and edges', () => {
    const g = layered(3, 3, 2);
    const recoloured: Graph = { ...g, nodes: g.nodes.map((n) => ({ ...n, state: 'failed' as const, label: 'x' })) };
    expect(graphShapeKey(recoloured)).toBe(graphShapeKey(g));
    expect(graphShapeKey({ ...g, edges: g.edges.slice(1) })).not.toBe(graphShapeKey(g));
    expect(graphShapeKey({ ...g, nodes: g.nodes.slice(1) })).not.toBe(graphShapeKey(g));
  });
});

function order(id: string, over: Partial<OrderRecord> = {}): OrderRecord {
  return makeOrder(id, { runId: 'r', createdAt: 0, ...over });
}

const links = { order: (o: OrderRecord) => `/o/${o.id}`, job: (job: string) => `/j/${job}` };

/** build → test.1..n (matrix) → report. */
function matrixRun(cells: number, states: (i: number) => OrderState = () => 'queued'): OrderRecord[] {
  const test = Array.from({ length: cells }, (_, i) =>
    order(`test.${String(i + 1)}`, { needsOrders: ['build'], state: states(i), seq: 1 }),
  );
  return [
    order('build', { state: 'succeeded' }),
    ...test,
    order('report', { needsOrders: test.map((o) => o.id), seq: 2 }),
  ];
}

describe('orderGraph', () => {
  it(`draws each order up to ${String(INDIVIDUAL_ORDERS_UP_TO)} orders, each linking to its page`, () => {
    const g = orderGraph(matrixRun(3), links);
    if (g.kind !== 'graph') throw new Error('expected a graph');
    expect(g.groupedJobs).toBe(0);
    expect(g.graph.nodes.map((n) => n.id)).toEqual([
      'order:build',
      'order:test.1',
      'order:test.2',
      'order:test.3',
      'order:report',
    ]);
    expect(g.graph.nodes[1]!.href).toBe('/o/test.1');
    expect(g.graph.edges).toHaveLength(6);
    expect(g.graph.nodes[0]!.detail).toBe('✓ succeeded');
  });

  it('groups a matrix job into one node above the limit, coloured by what needs attention first', () => {
    const states: OrderState[] = ['succeeded', 'running', 'failed'];
    const g = orderGraph(
      matrixRun(100, (i) => states[i % 3]!),
      links,
    );
    if (g.kind !== 'graph') throw new Error('expected a graph');
    expect(g.groupedJobs).toBe(1);
    expect(g.graph.nodes.map((n) => n.id)).toEqual(['order:build', 'job:test', 'order:report']);
    const test = g.graph.nodes[1]!;
    expect(test).toMatchObject({ label: 'test ×100', state: 'failed', href: '/j/test' });
    expect(test.detail).toBe('✗ failed (67/100)');
    expect(test.title).toBe('test: 100 matrix cells, 33 failed, 33 running, 34 succeeded');
    // 100 edges build → test.n and 100 test.n → report collapse into two.
    expect(g.graph.edges).toEqual([
      { from: 'order:build', to: 'job:test' },
      { from: 'job:test', to: 'order:report' },
    ]);
  });

  it('is not drawn past the node cap, and says why', () => {
    const many = Array.from({ length: 300 }, (_, i) => order(`job${String(i)}`));
    const g = orderGraph(many, links);
    expect(g).toMatchObject({ kind: 'omitted', nodes: 300 });
    if (g.kind === 'omitted') expect(g.reason).toContain('more than 256 nodes');
  });

  it('leaves out needs that are not in the list', () => {
    const g = orderGraph([order('b', { needsOrders: ['a'] })], links);
    expect(g.kind === 'graph' && g.graph.edges).toEqual([]);
  });
});
