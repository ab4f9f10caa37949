/**
 * `github.event`: the webhook payload of the event that started a run, as GitHub Actions gives it to workflows (the
 * `github.event` context, and the file at GITHUB_EVENT_PATH). It travels with the intent and then the run, both
 * stored items (DynamoDB: 400 KB each), so it is bounded: a payload over MAX_EVENT_PAYLOAD_BYTES keeps only the
 * fields workflows and actions commonly read (`essentialFields`). GitHub delivers payloads up to 25 MB; typical ones
 * (a push of a few commits, a pull request) are 10–40 KB. Pure.
 */

/** The JSON size (UTF-8 bytes) above which a payload is cut to its essential fields. */
export const MAX_EVENT_PAYLOAD_BYTES = 64 * 1024;

/** A kept string longer than this (a commit message, a comment's body) is cut, once the payload had to be cut. */
const MAX_KEPT_STRING = 4096;

export type EventPayload = Readonly<Record<string, unknown>>;

export interface BoundedPayload {
  readonly payload: EventPayload;
  /** The payload's size in bytes as delivered, when it was cut (absent: kept whole). */
  readonly cutFrom?: number;
}

/** What to keep of a value: all of it (`true`), or the named fields of an object (each element of a list). */
type Shape = true | { readonly [field: string]: Shape };

const USER: Shape = { login: true, id: true, node_id: true, type: true, html_url: true, avatar_url: true };

const REPOSITORY: Shape = {
  id: true,
  node_id: true,
  name: true,
  full_name: true,
  private: true,
  visibility: true,
  fork: true,
  html_url: true,
  url: true,
  clone_url: true,
  ssh_url: true,
  default_branch: true,
  owner: USER,
};

const BRANCH: Shape = { label: true, ref: true, sha: true, user: USER, repo: REPOSITORY };

const COMMIT_PERSON: Shape = { name: true, email: true, username: true };

const ESSENTIAL: Shape = {
  action: true,
  number: true,
  ref: true,
  ref_type: true,
  before: true,
  after: true,
  base_ref: true,
  created: true,
  deleted: true,
  forced: true,
  compare: true,
  repository: REPOSITORY,
  organization: { login: true, id: true, node_id: true },
  installation: { id: true },
  sender: USER,
  pusher: COMMIT_PERSON,
  head_commit: {
    id: true,
    tree_id: true,
    message: true,
    timestamp: true,
    url: true,
    author: COMMIT_PERSON,
    committer: COMMIT_PERSON,
  },
  pull_request: {
    id: true,
    node_id: true,
    number: true,
    state: true,
    locked: true,
    title: true,
    html_url: true,
    url: true,
    diff_url: true,
    user: USER,
    draft: true,
    merged: true,
    merge_commit_sha: true,
    mergeable: true,
    created_at: true,
    updated_at: true,
    closed_at: true,
    merged_at: true,
    labels: { id: true, name: true, color: true },
    head: BRANCH,
    base: BRANCH,
    author_association: true,
  },
  issue: { id: true, number: true, title: true, state: true, html_url: true, user: USER, pull_request: { url: true } },
  comment: { id: true, body: true, html_url: true, user: USER, created_at: true, author_association: true },
};

/**
 * The payload as `github.event` holds it: whole when its JSON is at most `max` bytes, else its essential fields
 * (`ESSENTIAL`, long strings cut), and `cutFrom` says how big it was.
 */
export function boundEventPayload(payload: EventPayload, max: number = MAX_EVENT_PAYLOAD_BYTES): BoundedPayload {
  const bytes = jsonBytes(payload);
  if (bytes <= max) return { payload };
  const essential = pick(payload, ESSENTIAL);
  if (isRecord(essential) && jsonBytes(essential) <= max) return { payload: essential, cutFrom: bytes };
  const scalars = scalarsOf(payload);
  return { payload: jsonBytes(scalars) <= max ? scalars : {}, cutFrom: bytes };
}

const encoder = new TextEncoder();

function jsonBytes(value: unknown): number {
  return encoder.encode(JSON.stringify(value)).length;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The fields of `value` that `shape` names, in the payload's order; a list keeps each element's. */
function pick(value: unknown, shape: Shape): unknown {
  if (shape === true)
    return typeof value === 'string' ? cut(value) : isRecord(value) || Array.isArray(value) ? undefined : value;
  if (Array.isArray(value)) return value.map((item) => pick(item, shape)).filter((item) => item !== undefined);
  if (!isRecord(value)) return value === null ? null : undefined;
  const kept: Record<string, unknown> = {};
  for (const [field, inner] of Object.entries(value)) {
    const wanted = Object.hasOwn(shape, field) ? shape[field] : undefined;
    if (wanted === undefined) continue;
    const picked = pick(inner, wanted);
    if (picked !== undefined)
      Object.defineProperty(kept, field, { value: picked, enumerable: true, writable: true, configurable: true });
  }
  return kept;
}

/** The last resort: the payload's own scalar fields (`action`, `number`, `ref`, `before`, `after`…), strings cut. */
function scalarsOf(payload: EventPayload): EventPayload {
  const kept: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(payload))
    if (value === null || ['number', 'boolean'].includes(typeof value) || typeof value === 'string')
      Object.defineProperty(kept, field, {
        value: typeof value === 'string' ? value.slice(0, 256) : value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
  return kept;
}

function cut(text: string): string {
  return text.length <= MAX_KEPT_STRING ? text : `${text.slice(0, MAX_KEPT_STRING - 3)}...`;
}
