/**
 * The dashboard: the runs list, run pages with the order graph, order pages with a live log, and status badges.
 * Server-rendered HTML, readable without JavaScript; a few lines of script refresh the live parts (see page.ts).
 * Every listing is bounded: runs a page at a time, the order table a page at a time, the graph capped in nodes
 * and its layout (the costly part) computed once per run shape and kept.
 */
import { renderBadge, stateBadge, latestBadgeState } from '../../core/render/badge.ts';
import { sortOrdersForDisplay } from '../../core/render/format.ts';
import {
  graphShapeKey,
  layoutGraph,
  orderGraph,
  renderGraphSvg,
  type GraphGeometry,
  type OrderGraph,
} from '../../core/render/graph-layout.ts';
import { countStates, stateWord } from '../../core/render/format.ts';
import type { ForgeKind, OrderRecord, RepoRef, RunRecord } from '../../core/types.ts';
import { readStepSummaries } from '../../store/step-summaries.ts';
import type { Store } from '../../store/store.ts';
import type { RouteDefinition, RouteParams, RouterRequest, RouterResponse } from '../router.ts';
import { htmlResponse, messagePage, type Account } from './page.ts';
import { isPublicRun, loginPath, refusalFor, type Visibility } from '../auth/visibility.ts';
import { LOGOUT_PATH } from '../auth/login-routes.ts';
import { renderOrderLive, renderOrderPage, type OrderPageInput } from './order-page.ts';
import { renderRunLive, renderRunPage, type RunPageInput } from './run-page.ts';
import { parseRunCursor, renderRunsLive, renderRunsPage, runCursor, type RunsPageInput } from './runs-page.ts';
import { RUNS_PATH, orderPath, runPath } from './view-parts.ts';

export interface DashboardOptions {
  readonly store: Pick<Store, 'getRun' | 'getOrder' | 'getOrders' | 'listOrders' | 'listRuns' | 'getDoc'>;
  /** Who may read which run (auth/visibility.ts): every page, list and badge asks it. */
  readonly visibility: Visibility;
  readonly now?: () => number;
  /** How often live parts refresh in the browser. */
  readonly refreshMs?: number;
  /** Runs per page of the runs list (a `?limit=` up to `MAX_RUNS_PER_PAGE` overrides it). */
  readonly runsPerPage?: number;
  /** Rows per page of a run's order table. */
  readonly ordersPerPage?: number;
  /** Run layouts kept (a layout of 256 orders takes a noticeable fraction of a second; refreshes reuse it). */
  readonly layoutCacheSize?: number;
  /** The run's repository's secrets page, when the viewer may manage them (asked on a run page's full load only). */
  readonly secretsLink?: (req: RouterRequest, run: RunRecord) => Promise<string | undefined>;
}

export const DEFAULT_REFRESH_MS = 2000;
export const DEFAULT_RUNS_PER_PAGE = 25;
export const MAX_RUNS_PER_PAGE = 100;
export const DEFAULT_ORDERS_PER_PAGE = 256;
/** Step summaries rendered on one run page; more are counted, not read. */
export const MAX_SUMMARIES_SHOWN = 50;
/** How many recent runs tell which forge hosts the store holds, and how far back a badge looks. */
const RECENT_RUNS = 200;
/** A badge's branch when `?branch=` is absent: the store does not know a repository's default branch. */
const DEFAULT_BADGE_BRANCHES = ['main', 'master'] as const;
const FORGE_KINDS: readonly ForgeKind[] = ['github', 'gitea'];

const BADGE_HEADERS = {
  'content-type': 'image/svg+xml; charset=utf-8',
  // Forges proxy README images (GitHub's camo) and honour this: the badge is asked for again on each view.
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  // An SVG opened on its own is a document: it may run nothing and load nothing.
  'content-security-policy': "default-src 'none'; frame-ancestors *",
} as const;

/** What every dashboard handler reads: the store, the clock, the page sizes and the kept graph layouts. */
interface Dashboard {
  readonly store: DashboardOptions['store'];
  readonly visibility: Visibility;
  readonly now: () => number;
  readonly refreshMs: number;
  readonly runsPerPage: number;
  readonly ordersPerPage: number;
  readonly layouts: LruCache<string, GraphGeometry>;
  readonly secretsLink: NonNullable<DashboardOptions['secretsLink']>;
}

export function createDashboardRoutes(options: DashboardOptions): RouteDefinition[] {
  const dashboard: Dashboard = {
    store: options.store,
    visibility: options.visibility,
    now: options.now ?? Date.now,
    refreshMs: options.refreshMs ?? DEFAULT_REFRESH_MS,
    runsPerPage: options.runsPerPage ?? DEFAULT_RUNS_PER_PAGE,
    ordersPerPage: options.ordersPerPage ?? DEFAULT_ORDERS_PER_PAGE,
    layouts: new LruCache<string, GraphGeometry>(options.layoutCacheSize ?? 32),
    secretsLink: options.secretsLink ?? (() => Promise.resolve(undefined)),
  };
  const get = (
    pattern: string,
    handle: (dashboard: Dashboard, req: RouterRequest, params: RouteParams) => Promise<RouterResponse>,
  ): RouteDefinition => ({ method: 'GET', pattern, handle: (req, params) => handle(dashboard, req, params) });
  return [
    get('/', () => Promise.resolve({ status: 302, headers: { location: RUNS_PATH }, body: '' })),
    get(RUNS_PATH, handleRunsPage),
    get(`${RUNS_PATH}/:run`, handleRunPage),
    get(`${RUNS_PATH}/:run/orders/:order`, handleOrderPage),
    get('/badge/:owner/:repo', (d, req, params) => handleBadge(d, req, params.owner ?? '', params.repo ?? '')),
    get('/badge/:owner/:repo/:workflow', (d, req, params) =>
      handleBadge(d, req, params.owner ?? '', params.repo ?? '', params.workflow ?? ''),
    ),
  ];
}

/** The runs list's query: `repo=owner/name`, `host=`, `before=<cursor>`, `limit=`; or why it is a bad request. */
type RunsQuery =
  | {
      readonly repo?: { readonly owner: string; readonly name: string };
      readonly host?: string;
      readonly before?: { createdAt: number; runId: string };
      readonly limit: number;
      readonly askedLimit: boolean;
    }
  | { readonly problem: string };

function parseRunsQuery(query: URLSearchParams, runsPerPage: number): RunsQuery {
  const repoParam = query.get('repo')?.trim() ?? '';
  const host = query.get('host')?.trim() || undefined;
  const beforeParam = query.get('before');
  const limitParam = query.get('limit');
  let limit = runsPerPage;
  if (limitParam !== null) {
    if (!/^\d{1,3}$/.test(limitParam) || Number(limitParam) < 1 || Number(limitParam) > MAX_RUNS_PER_PAGE)
      return { problem: `limit must be a number from 1 to ${String(MAX_RUNS_PER_PAGE)}.` };
    limit = Number(limitParam);
  }
  const before = beforeParam === null ? undefined : parseRunCursor(beforeParam);
  if (beforeParam !== null && before === undefined)
    return { problem: 'before must be a cursor from an "Older runs" link.' };
  let repo: { owner: string; name: string } | undefined;
  if (repoParam !== '') {
    const m = /^([^/\s]+)\/([^/\s]+)$/.exec(repoParam);
    if (m === null) return { problem: 'repo must be owner/name.' };
    repo = { owner: m[1]!, name: m[2]! };
  }
  return {
    ...(repo === undefined ? {} : { repo }),
    ...(host === undefined ? {} : { host }),
    ...(before === undefined ? {} : { before }),
    limit,
    askedLimit: limitParam !== null,
  };
}

async function handleRunsPage(dashboard: Dashboard, req: RouterRequest): Promise<RouterResponse> {
  const { store } = dashboard;
  const query = parseRunsQuery(req.query, dashboard.runsPerPage);
  if ('problem' in query) return messagePage(400, 'Bad request', query.problem);
  const { repo, host, before, limit } = query;
  const repos = repo === undefined ? undefined : await candidateRepos(store, repo.owner, repo.name, host);
  // One more than a page: whether there is an older page is then known without a second query.
  const fetched = await listVisibleRuns(dashboard, req, limit + 1, before, (batch, from) =>
    repos === undefined
      ? store.listRuns({ limit: batch, ...(from === undefined ? {} : { before: from }) })
      : listRepoRuns(store, repos, batch, from),
  );
  const runs = fetched.slice(0, limit);
  const last = runs[runs.length - 1];
  const hosts = new Set(runs.map((r) => `${r.repo.forge}\n${r.repo.host.toLowerCase()}`));
  const input: RunsPageInput = {
    runs,
    now: dashboard.now(),
    ...(repo === undefined ? {} : { repo: `${repo.owner}/${repo.name}` }),
    ...(host === undefined ? {} : { host }),
    paged: before !== undefined,
    ...(fetched.length > limit && last !== undefined ? { older: runCursor(last) } : {}),
    limit,
    ...(query.askedLimit ? { askedLimit: limit } : {}),
    severalHosts: hosts.size > 1,
    refreshMs: dashboard.refreshMs,
    ...(await accountOf(dashboard, req)),
  };
  if (req.query.get('part') === 'live') return htmlResponse(200, renderRunsLive(input));
  return htmlResponse(200, renderRunsPage(input));
}

async function handleRunPage(dashboard: Dashboard, req: RouterRequest, params: RouteParams): Promise<RouterResponse> {
  const { store } = dashboard;
  const runId = params.run ?? '';
  const pageParam = req.query.get('page');
  if (pageParam !== null && !/^[1-9]\d{0,5}$/.test(pageParam))
    return messagePage(400, 'Bad request', 'page must be a positive number.');
  const run = await store.getRun(runId);
  const notFound = (): RouterResponse => messagePage(404, 'Run not found', 'No run has this id (it may have expired).');
  if (run === undefined) return notFound();
  const refused = await refusalFor(dashboard.visibility, req, run, notFound);
  if (refused !== undefined) return refused;
  const orders = sortOrdersForDisplay(await store.listOrders(runId));
  const job = req.query.get('job') ?? undefined;
  const input: RunPageInput = {
    run,
    orders,
    now: dashboard.now(),
    graph: graphFor(dashboard.layouts, run, orders),
    ...(job === undefined || job === '' ? {} : { job }),
    page: pageParam === null ? 1 : Number(pageParam),
    pageSize: dashboard.ordersPerPage,
    refreshMs: dashboard.refreshMs,
  };
  if (req.query.get('part') === 'live') return htmlResponse(200, renderRunLive(input));
  const summaries = await summariesOf(store, orders);
  // Only someone who may read the private repository gets here: its badge key is theirs to see.
  const badge = isPublicRun(run) ? {} : { badgePath: badgePathOf(dashboard.visibility, run) };
  const secretsPath = await dashboard.secretsLink(req, run);
  const settings = secretsPath === undefined ? {} : { secretsPath };
  return htmlResponse(
    200,
    renderRunPage({ ...input, ...summaries, ...badge, ...settings, ...(await accountOf(dashboard, req)) }),
  );
}

/**
 * The run's step summaries, at most MAX_SUMMARIES_SHOWN (one read each; GitHub shows at most 20 per job), in display
 * order, and how many more there are.
 */
async function summariesOf(
  store: Dashboard['store'],
  orders: readonly OrderRecord[],
): Promise<Pick<RunPageInput, 'summaries' | 'summariesLeftOut'>> {
  let room = MAX_SUMMARIES_SHOWN;
  let leftOut = 0;
  const wanted: OrderRecord[] = [];
  for (const order of orders) {
    const steps = (order.stepResults ?? []).filter((s) => s.hasSummary === true);
    if (steps.length === 0) continue;
    const kept = steps.slice(0, room);
    leftOut += steps.length - kept.length;
    room -= kept.length;
    if (kept.length > 0) wanted.push({ ...order, stepResults: kept });
  }
  const read = await Promise.all(
    wanted.map(async (order) => ({ order, steps: await readStepSummaries(store, order) })),
  );
  return { summaries: read.filter((r) => r.steps.length > 0), summariesLeftOut: leftOut };
}

async function handleOrderPage(dashboard: Dashboard, req: RouterRequest, params: RouteParams): Promise<RouterResponse> {
  const { store } = dashboard;
  const runId = params.run ?? '';
  const orderId = params.order ?? '';
  const [run, order] = await Promise.all([store.getRun(runId), store.getOrder(runId, orderId)]);
  const notFound = (): RouterResponse =>
    messagePage(404, 'Order not found', 'No order has this id in this run (it may have expired).');
  if (run === undefined || order === undefined) return notFound();
  const refused = await refusalFor(dashboard.visibility, req, run, notFound);
  if (refused !== undefined) return refused;
  const needs = sortOrdersForDisplay(await store.getOrders(runId, order.needsOrders));
  const input: OrderPageInput = {
    run,
    order,
    needs,
    now: dashboard.now(),
    refreshMs: dashboard.refreshMs,
    ...(await accountOf(dashboard, req)),
  };
  if (req.query.get('part') === 'live') return htmlResponse(200, renderOrderLive(input));
  return htmlResponse(200, renderOrderPage(input));
}

/** `/badge/<owner>/<repo>.svg`, or `/badge/<owner>/<repo>/<workflow>.svg`: the last segment carries `.svg`. */
async function handleBadge(
  { store, visibility }: Dashboard,
  req: RouterRequest,
  owner: string,
  repoSegment: string,
  workflowSegment?: string,
): Promise<RouterResponse> {
  const name = workflowSegment === undefined ? svgName(repoSegment) : repoSegment;
  const workflow = workflowSegment === undefined ? undefined : svgName(workflowSegment);
  if (name === undefined || (workflowSegment !== undefined && workflow === undefined))
    return { status: 404, headers: BADGE_HEADERS, body: renderBadge(stateBadge('spotcheck', 'unknown')) };
  const label = workflow ?? 'spotcheck';
  const host = req.query.get('host')?.trim() || undefined;
  const repos = await candidateRepos(store, owner, name, host);
  const distinctHosts = new Set(repos.map((r) => r.host.toLowerCase()));
  if (host === undefined && distinctHosts.size > 1) {
    // Several forges share this server: which `owner/name` is meant cannot be guessed.
    return {
      status: 400,
      headers: BADGE_HEADERS,
      body: renderBadge({ label, message: 'add ?host=', color: '#9f9f9f' }),
    };
  }
  const branch = req.query.get('branch')?.trim() || undefined;
  const runs = await listRepoRuns(store, repos, RECENT_RUNS);
  // A private repository's badge needs its key; without it, the answer is the one for a repository never seen.
  const key = req.query.get('key') ?? '';
  const hidden = runs.find((r) => !isPublicRun(r) && !visibility.isBadgeKey(r.repo, key));
  if (hidden !== undefined)
    return { status: 200, headers: BADGE_HEADERS, body: renderBadge(stateBadge(label, 'unknown')) };
  const state = latestBadgeState(runs, {
    branches: branch === undefined ? DEFAULT_BADGE_BRANCHES : [branch],
    ...(workflow === undefined ? {} : { workflow }),
  });
  return { status: 200, headers: BADGE_HEADERS, body: renderBadge(stateBadge(label, state)) };
}

/** Runs per read while the runs list looks for runs the viewer may see; reads per page are capped. */
const VISIBLE_BATCH = 100;
const MAX_VISIBLE_READS = 5;

/**
 * Up to `wanted` runs the viewer may read, newest first, from `read(batch, before)`. Runs of repositories hidden
 * from the viewer are skipped; a page may come out short after MAX_VISIBLE_READS reads (the "Older runs" link then
 * goes on from the last run shown).
 */
async function listVisibleRuns(
  { visibility }: Dashboard,
  req: RouterRequest,
  wanted: number,
  before: { createdAt: number; runId: string } | undefined,
  read: (batch: number, before?: { createdAt: number; runId: string }) => Promise<RunRecord[]>,
): Promise<RunRecord[]> {
  const shown: RunRecord[] = [];
  let from = before;
  for (let reads = 0; reads < MAX_VISIBLE_READS && shown.length < wanted; reads++) {
    const batch = await read(Math.max(wanted, VISIBLE_BATCH), from);
    for (const run of batch) {
      if (shown.length >= wanted) break;
      if (await visibility.mayRead(req, run)) shown.push(run);
    }
    const last = batch[batch.length - 1];
    if (last === undefined || batch.length < Math.max(wanted, VISIBLE_BATCH)) break;
    from = { createdAt: last.createdAt, runId: last.runId };
  }
  return shown;
}

/** The header's account corner: nothing when there is no login, else the viewer or a login link back here. */
async function accountOf({ visibility }: Dashboard, req: RouterRequest): Promise<{ account?: Account }> {
  if (visibility.loginForges.length === 0) return {};
  const viewer = await visibility.viewerOf(req);
  if (viewer !== undefined) return { account: { login: viewer.login, logoutPath: LOGOUT_PATH } };
  const query = req.query.toString();
  return { account: { loginHref: loginPath(`${req.path}${query === '' ? '' : `?${query}`}`) } };
}

/** `/badge/<owner>/<repo>.svg?host=…&key=…`. */
function badgePathOf(visibility: Visibility, run: RunRecord): string {
  const query = new URLSearchParams({ host: run.repo.host, key: visibility.badgeKey(run.repo) });
  return `/badge/${encodeURIComponent(run.repo.owner)}/${encodeURIComponent(run.repo.name)}.svg?${query.toString()}`;
}

/** Distinct forge hosts among the newest runs (a store usually holds one). */
async function recentHosts(store: Dashboard['store']): Promise<Pick<RepoRef, 'forge' | 'host'>[]> {
  const seen = new Map<string, Pick<RepoRef, 'forge' | 'host'>>();
  for (const run of await store.listRuns({ limit: RECENT_RUNS })) {
    const key = `${run.repo.forge}\n${run.repo.host.toLowerCase()}`;
    if (!seen.has(key)) seen.set(key, { forge: run.repo.forge, host: run.repo.host });
  }
  return [...seen.values()];
}

/**
 * The repository keys `owner/name` may mean: with `host`, that host (under the forge its runs were stored with,
 * else both forges); without, every host the store's recent runs came from (usually exactly one).
 */
async function candidateRepos(
  store: Dashboard['store'],
  owner: string,
  name: string,
  host: string | undefined,
): Promise<RepoRef[]> {
  const hosts = await recentHosts(store);
  const matching = host === undefined ? hosts : hosts.filter((h) => h.host.toLowerCase() === host.toLowerCase());
  const chosen = matching.length > 0 || host === undefined ? matching : FORGE_KINDS.map((forge) => ({ forge, host }));
  return chosen.map((h) => ({ forge: h.forge, host: h.host, owner, name }));
}

/** Newest first across several repository keys, `limit` of them. */
async function listRepoRuns(
  store: Dashboard['store'],
  repos: readonly RepoRef[],
  limit: number,
  before?: { createdAt: number; runId: string },
): Promise<RunRecord[]> {
  const lists = await Promise.all(
    repos.map((repo) => store.listRuns({ repo, limit, ...(before === undefined ? {} : { before }) })),
  );
  return lists
    .flat()
    .sort((a, b) => b.createdAt - a.createdAt || (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0))
    .slice(0, limit);
}

/** The run's order graph, laid out once per run shape (the layout is the costly part). */
function graphFor(
  layouts: LruCache<string, GraphGeometry>,
  run: RunRecord,
  orders: readonly OrderRecord[],
): RunPageInput['graph'] {
  const built: OrderGraph = orderGraph(orders, {
    order: (o) => orderPath(o.runId, o.id),
    job: (job) => `${runPath(run.runId)}?${new URLSearchParams({ job }).toString()}#orders`,
  });
  if (built.kind === 'omitted') return built;
  const key = `${run.runId}\n${graphShapeKey(built.graph)}`;
  let geometry = layouts.get(key);
  if (geometry === undefined) {
    geometry = layoutGraph(built.graph);
    layouts.set(key, geometry);
  }
  const counts = countStates(orders)
    .map(([s, n]) => `${String(n)} ${stateWord(s)}`)
    .join(', ');
  const svg = renderGraphSvg(built.graph, geometry, {
    title: `Order graph of ${run.workflowName}`,
    description: `${String(orders.length)} orders (${counts}); arrows point from an order to those that need it.`,
  });
  return { svg, graph: built };
}

/** `app.svg` → `app`; undefined without the extension. */
function svgName(segment: string): string | undefined {
  return segment.endsWith('.svg') && segment.length > 4 ? segment.slice(0, -4) : undefined;
}

/** A small least-recently-used map (a Map keeps insertion order; a hit is re-inserted at the end). */
class LruCache<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, V>();
  constructor(max: number) {
    this.#max = Math.max(1, max);
  }
  get(key: K): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }
  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    while (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as K);
  }
}
