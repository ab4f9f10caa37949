/**
 * The order graph of a run, drawn as SVG: nodes are orders (or whole matrix jobs in a large run), edges are needs.
 * Positions come from dagre's layered layout (Sugiyama-style: ranks, crossing reduction, coordinates); the SVG is a
 * string, so the server can send it in the page and a reader without JavaScript sees it. Pure and deterministic:
 * the same graph gives the same bytes.
 *
 * Layout and drawing are apart on purpose: positions depend only on the graph's shape, which never changes during a
 * run, so a caller may keep a geometry and redraw it as states change.
 */
import dagreModule from '@dagrejs/dagre';
import { escapeXml } from './badge.ts';
import { oneLine, stateWord } from './format.ts';
import { isFinalOrderState, type OrderRecord, type OrderState } from '../types.ts';

export interface GraphNode {
  readonly id: string;
  /** First line (cut to fit the box). */
  readonly label: string;
  /** Second line: the state in words (colour is never the only signal). */
  readonly detail: string;
  /** Colours the box. */
  readonly state: OrderState;
  /** Where the node links to: a path (`/…`) or an http(s) URL; anything else is not linked. */
  readonly href?: string;
  /** Full text for the tooltip and the link's accessible name. */
  readonly title: string;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
}

export interface Graph {
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** A box by its top-left corner. */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface GraphGeometry {
  readonly width: number;
  readonly height: number;
  readonly nodes: ReadonlyMap<string, Box>;
  readonly edges: readonly { readonly from: string; readonly to: string; readonly points: readonly Point[] }[];
}

export const NODE_WIDTH = 176;
export const NODE_HEIGHT = 44;
/** Characters of a label that fit a box at the graph's font size. */
const LABEL_CHARS = 24;
const DETAIL_CHARS = 26;

/**
 * Above this many nodes dagre's crossing reduction costs more than it gives (seconds at a few hundred nodes on this
 * machine): the layout keeps the input order within each rank instead.
 */
const FULL_ORDERING_UP_TO = 64;

/**
 * Positions for a graph's nodes and edges, left to right (needs first, like a pipeline). Edges to unknown nodes and
 * self-edges are ignored.
 */
export function layoutGraph(graph: Pick<Graph, 'nodes' | 'edges'>): GraphGeometry {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'LR', nodesep: 14, ranksep: 48, marginx: 8, marginy: 8, ranker: 'longest-path' });
  g.setDefaultEdgeLabel(() => ({}));
  // Internal ids by position: user-chosen ids (a job may be called `__proto__`) never become object keys.
  const internal = new Map<string, string>();
  for (const [i, node] of graph.nodes.entries()) {
    const key = `n${String(i)}`;
    internal.set(node.id, key);
    g.setNode(key, { width: NODE_WIDTH, height: NODE_HEIGHT });
  }
  const edges: { from: string; to: string; key: [string, string] }[] = [];
  const seen = new Set<string>();
  for (const edge of graph.edges) {
    const v = internal.get(edge.from);
    const w = internal.get(edge.to);
    if (v === undefined || w === undefined || v === w || seen.has(`${v}>${w}`)) continue;
    seen.add(`${v}>${w}`);
    g.setEdge(v, w);
    edges.push({ from: edge.from, to: edge.to, key: [v, w] });
  }
  dagre.layout(g, { disableOptimalOrderHeuristic: graph.nodes.length > FULL_ORDERING_UP_TO });
  const nodes = new Map<string, Box>();
  for (const node of graph.nodes) {
    const label = g.node(internal.get(node.id)!);
    nodes.set(node.id, {
      x: round(label.x - label.width / 2),
      y: round(label.y - label.height / 2),
      width: label.width,
      height: label.height,
    });
  }
  const label = g.graph();
  return {
    width: Math.ceil(label.width ?? 0),
    height: Math.ceil(label.height ?? 0),
    nodes,
    edges: edges.map(({ from, to, key }) => {
      const e = g.edge(key[0], key[1]);
      return { from, to, points: (e.points ?? []).map((p) => ({ x: round(p.x), y: round(p.y) })) };
    }),
  };
}

/**
 * The part of dagre used here. dagre 3's own declarations import their siblings without file extensions, which
 * TypeScript's NodeNext resolution cannot follow (TS2834), so they resolve to nothing: this names what is used.
 */
interface DagreGraph {
  setGraph(label: Record<string, unknown>): void;
  setDefaultEdgeLabel(make: () => Record<string, unknown>): void;
  setNode(id: string, label: { width: number; height: number }): void;
  setEdge(v: string, w: string): void;
  node(id: string): { x: number; y: number; width: number; height: number };
  edge(v: string, w: string): { points?: Point[] };
  graph(): { width?: number; height?: number };
}
interface Dagre {
  graphlib: { Graph: new (options: { multigraph: boolean }) => DagreGraph };
  layout(g: DagreGraph, options: { disableOptimalOrderHeuristic: boolean }): void;
}
const dagre = dagreModule as unknown as Dagre;

const round = (n: number): number => Math.round(n * 10) / 10;

/**
 * A key that is equal for two graphs exactly when they have the same nodes and edges in the same order: what a
 * geometry depends on (labels and states do not move anything).
 */
export function graphShapeKey(graph: Pick<Graph, 'nodes' | 'edges'>): string {
  const parts = graph.nodes.map((n) => n.id);
  parts.push('|');
  for (const e of graph.edges) parts.push(`${e.from}>${e.to}`);
  return fnv1a(parts.join('\n'));
}

function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return `${(h >>> 0).toString(16)}-${String(s.length)}`;
}

/** Fill and outline per state: light fills so dark text stays readable (WCAG 2.2 §1.4.3 contrast). */
export const STATE_COLORS = {
  queued: { fill: '#f6f8fa', stroke: '#8c959f' },
  dispatching: { fill: '#ddf4ff', stroke: '#54aeff' },
  running: { fill: '#ddf4ff', stroke: '#0969da' },
  interrupted: { fill: '#fff8c5', stroke: '#9a6700' },
  succeeded: { fill: '#dafbe1', stroke: '#1a7f37' },
  failed: { fill: '#ffebe9', stroke: '#cf222e' },
  timed_out: { fill: '#fff1e5', stroke: '#bc4c00' },
  cancelled: { fill: '#eaeef2', stroke: '#57606a' },
  skipped: { fill: '#ffffff', stroke: '#afb8c1' },
} as const satisfies Record<OrderState, { fill: string; stroke: string }>;

/**
 * A glyph per state beside the state word. Plain symbols, not emoji: an SVG is drawn with whatever fonts the
 * reader has, and these are in every common sans-serif font.
 */
export const STATE_GLYPHS = {
  queued: '○',
  dispatching: '↑',
  running: '▶',
  interrupted: '!',
  succeeded: '✓',
  failed: '✗',
  timed_out: '✗',
  cancelled: '⊘',
  skipped: '–',
} as const satisfies Record<OrderState, string>;

/** `✓ succeeded`: the state as a person reads it. */
export function stateText(state: OrderState): string {
  return `${STATE_GLYPHS[state]} ${stateWord(state)}`;
}

export interface SvgText {
  /** The graph's accessible name. */
  readonly title: string;
  /** A sentence saying what it shows (counts per state, what was grouped). */
  readonly description: string;
}

/**
 * The SVG element for a graph laid out by `layoutGraph`. Every user-controlled text is escaped; a node without a box
 * in `geometry` is not drawn. Each node carries `data-state` so a page script or a test can read it.
 */
export function renderGraphSvg(graph: Graph, geometry: GraphGeometry, text: SvgText): string {
  const w = String(Math.max(geometry.width, 1));
  const h = String(Math.max(geometry.height, 1));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" aria-labelledby="graph-title graph-desc">`,
    `<title id="graph-title">${escapeXml(oneLine(text.title, 200))}</title>`,
    `<desc id="graph-desc">${escapeXml(oneLine(text.description, 1000))}</desc>`,
    '<defs><marker id="graph-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#6e7781"/></marker></defs>',
    '<g fill="none" stroke="#8c959f" stroke-width="1.5">',
  ];
  for (const edge of geometry.edges) {
    if (edge.points.length < 2) continue;
    const d = edge.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${String(p.x)},${String(p.y)}`).join('');
    out.push(`<path d="${d}" marker-end="url(#graph-arrow)"/>`);
  }
  out.push(
    '</g>',
    '<g font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif" font-size="12" fill="#1f2328">',
  );
  for (const node of graph.nodes) {
    const box = geometry.nodes.get(node.id);
    if (box === undefined) continue;
    const colors = STATE_COLORS[node.state];
    const title = escapeXml(oneLine(node.title, 300));
    const x = String(box.x);
    const y = String(box.y);
    const tx = String(round(box.x + 10));
    const shape = [
      `<title>${title}</title>`,
      `<rect x="${x}" y="${y}" width="${String(box.width)}" height="${String(box.height)}" rx="6" fill="${colors.fill}" stroke="${colors.stroke}" stroke-width="${node.state === 'running' ? '2.5' : '1.5'}"${node.state === 'skipped' ? ' stroke-dasharray="4 3"' : ''}/>`,
      `<text x="${tx}" y="${String(round(box.y + 18))}" font-weight="600">${escapeXml(oneLine(node.label, LABEL_CHARS))}</text>`,
      `<text x="${tx}" y="${String(round(box.y + 35))}" fill="#424a53">${escapeXml(oneLine(node.detail, DETAIL_CHARS))}</text>`,
    ].join('');
    const g = `<g class="node" data-node="${escapeXml(node.id)}" data-state="${node.state}">${shape}</g>`;
    const href = node.href !== undefined && isSafeHref(node.href) ? node.href : undefined;
    out.push(href === undefined ? g : `<a href="${escapeXml(href)}" aria-label="${title}">${g}</a>`);
  }
  out.push('</g>', '</svg>');
  return out.join('');
}

/** A same-site path or an http(s) URL: never `javascript:` or `data:` in a link a user's text could reach. */
function isSafeHref(href: string): boolean {
  return (/^\/(?!\/)/.test(href) || /^https?:\/\//i.test(href)) && !/[\s\p{Cc}]/u.test(href);
}

// ---------------------------------------------------------------------------------------------------------------
// From a run's orders to a graph.
// ---------------------------------------------------------------------------------------------------------------

/**
 * Up to this many orders every order is its own node (each links to its log). Beyond, a matrix job's cells are one
 * node per job: a 16-wide matrix drawn as 16 boxes of `test (1)`, `test (2)`… says less than `test ×16` with a count.
 */
export const INDIVIDUAL_ORDERS_UP_TO = 64;
/** Past this many nodes (after grouping) the graph is not drawn: the page says so and the table lists every order. */
export const MAX_GRAPH_NODES = 256;

/** Which state a group of orders shows: whatever needs attention first. */
const GROUP_RANK = {
  failed: 0,
  timed_out: 1,
  interrupted: 2,
  running: 3,
  dispatching: 4,
  queued: 5,
  cancelled: 6,
  succeeded: 7,
  skipped: 8,
} as const satisfies Record<OrderState, number>;

export interface OrderGraphLinks {
  /** An order's page (its log). */
  order(order: OrderRecord): string;
  /** The orders of one job (a grouped node). */
  job(job: string): string;
}

export type OrderGraph =
  | { readonly kind: 'graph'; readonly graph: Graph; readonly groupedJobs: number }
  | { readonly kind: 'omitted'; readonly nodes: number; readonly reason: string };

export interface OrderGraphOptions {
  readonly individualUpTo?: number;
  readonly maxNodes?: number;
}

/**
 * The graph of a run's orders, given in display order. Edges follow `needsOrders`; needs outside `orders` are left
 * out. Deterministic: node order is the orders' order, so the layout is stable across refreshes.
 */
export function orderGraph(
  orders: readonly OrderRecord[],
  links: OrderGraphLinks,
  options: OrderGraphOptions = {},
): OrderGraph {
  const individualUpTo = options.individualUpTo ?? INDIVIDUAL_ORDERS_UP_TO;
  const maxNodes = options.maxNodes ?? MAX_GRAPH_NODES;
  const byJob = new Map<string, OrderRecord[]>();
  for (const o of orders) {
    const list = byJob.get(o.job);
    if (list === undefined) byJob.set(o.job, [o]);
    else list.push(o);
  }
  const group = orders.length > individualUpTo;
  const nodeCount = group ? byJob.size : orders.length;
  if (nodeCount > maxNodes) {
    return {
      kind: 'omitted',
      nodes: nodeCount,
      reason: `the graph is not drawn for more than ${String(maxNodes)} nodes (this run has ${String(nodeCount)} ${group ? 'jobs' : 'orders'}); the table lists every order`,
    };
  }
  const nodeOf = new Map<string, string>();
  const groups = new Map<string, GraphNode>();
  for (const [job, cells] of byJob) {
    if (group && cells.length > 1) {
      const id = `job:${job}`;
      for (const o of cells) nodeOf.set(o.id, id);
      groups.set(id, groupNode(id, job, cells, links.job(job)));
    }
  }
  const out: GraphNode[] = [];
  const placed = new Set<string>();
  for (const o of orders) {
    const grouped = groups.get(nodeOf.get(o.id) ?? '');
    if (grouped !== undefined) {
      if (!placed.has(grouped.id)) {
        placed.add(grouped.id);
        out.push(grouped);
      }
      continue;
    }
    const id = `order:${o.id}`;
    nodeOf.set(o.id, id);
    out.push({
      id,
      label: o.name,
      detail: stateText(o.state),
      state: o.state,
      href: links.order(o),
      title: `${o.name}: ${stateWord(o.state)}${o.reason === undefined ? '' : ` (${o.reason})`}`,
    });
  }
  const edges: GraphEdge[] = [];
  const seen = new Set<string>();
  for (const o of orders) {
    const to = nodeOf.get(o.id)!;
    for (const need of o.needsOrders) {
      const from = nodeOf.get(need);
      if (from === undefined || from === to || seen.has(`${from}\n${to}`)) continue;
      seen.add(`${from}\n${to}`);
      edges.push({ from, to });
    }
  }
  return { kind: 'graph', graph: { nodes: out, edges }, groupedJobs: groups.size };
}

function groupNode(id: string, job: string, cells: readonly OrderRecord[], href: string): GraphNode {
  let state: OrderState = cells[0]!.state;
  const counts = new Map<OrderState, number>();
  for (const o of cells) {
    counts.set(o.state, (counts.get(o.state) ?? 0) + 1);
    if (GROUP_RANK[o.state] < GROUP_RANK[state]) state = o.state;
  }
  const done = cells.filter((o) => isFinalOrderState(o.state)).length;
  const breakdown = [...counts]
    .sort((a, b) => GROUP_RANK[a[0]] - GROUP_RANK[b[0]])
    .map(([s, n]) => `${String(n)} ${stateWord(s)}`)
    .join(', ');
  return {
    id,
    label: `${job} ×${String(cells.length)}`,
    detail: `${stateText(state)} (${String(done)}/${String(cells.length)})`,
    state,
    href,
    title: `${job}: ${String(cells.length)} matrix cells, ${breakdown}`,
  };
}
