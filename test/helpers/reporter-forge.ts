import type { RepoRef } from '../../src/core/types.ts';
import { ForgeError } from '../../src/errors.ts';
import type { CommitStatus, Forge, IssueComment } from '../../src/forges/forge.ts';

type Method = {
  [K in keyof Forge]: Forge[K] extends (...args: never[]) => unknown ? K : never;
}[keyof Forge];

export interface StoredComment {
  readonly id: number;
  readonly repo: string;
  readonly pr: number;
  readonly author: string;
  body: string;
  edits: number;
}

export interface StatusWrite extends CommitStatus {
  readonly repo: string;
  readonly sha: string;
}

/**
 * An in-memory forge that keeps statuses and comments as GitHub would and counts calls per method. It refuses what
 * GitHub refuses (a status description over 140 characters, a comment over 65,536), so a test notices an overrun.
 */
export class ReporterForge implements Forge {
  readonly kind = 'github' as const;
  readonly host = 'github.com';
  readonly maxCommentLength = 65_536;
  readonly maxStatusDescription = 140;
  readonly botLogin = 'spotcheck[bot]';

  readonly calls = new Map<Method, number>();
  /** Every status write, in order. */
  readonly statusWrites: StatusWrite[] = [];
  readonly comments = new Map<number, StoredComment>();
  /** Comment writes (create + update) in flight right now, and the most ever seen at once. */
  inflightCommentWrites = 0;
  maxInflightCommentWrites = 0;

  #nextId = 1000;
  readonly #failures = new Map<Method, { left: number; error: () => Error }>();
  #gate: Promise<void> | undefined;

  count(method: Method): number {
    return this.calls.get(method) ?? 0;
  }

  /** The next `times` calls of `method` throw (`Infinity`: every call). */
  failNext(method: Method, times: number, error: () => Error = () => retryable()): void {
    this.#failures.set(method, { left: times, error });
  }

  /** Comment writes wait until the returned function is called. */
  holdCommentWrites(): () => void {
    let open!: () => void;
    this.#gate = new Promise((resolve) => (open = resolve));
    return () => {
      this.#gate = undefined;
      open();
    };
  }

  /** A comment written by someone else (a user pasting the marker, another bot). */
  seedComment(repo: RepoRef, pr: number, body: string, author: string): StoredComment {
    const comment = { id: this.#nextId++, repo: key(repo), pr, author, body, edits: 0 };
    this.comments.set(comment.id, comment);
    return comment;
  }

  commentsOn(repo: RepoRef, pr: number): StoredComment[] {
    return [...this.comments.values()].filter((c) => c.repo === key(repo) && c.pr === pr);
  }

  /** The latest status per context for a commit. */
  statusesAt(sha: string): Map<string, StatusWrite> {
    const latest = new Map<string, StatusWrite>();
    for (const s of this.statusWrites) if (s.sha === sha) latest.set(s.context, s);
    return latest;
  }

  #enter(method: Method): void {
    this.calls.set(method, this.count(method) + 1);
    const failure = this.#failures.get(method);
    if (failure && failure.left > 0) {
      failure.left -= 1;
      throw failure.error();
    }
  }

  async #commentWrite<T>(work: () => T): Promise<T> {
    this.inflightCommentWrites += 1;
    this.maxInflightCommentWrites = Math.max(this.maxInflightCommentWrites, this.inflightCommentWrites);
    try {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.#gate) await this.#gate;
      return work();
    } finally {
      this.inflightCommentWrites -= 1;
    }
  }

  readWorkflows(): Promise<never[]> {
    this.#enter('readWorkflows');
    return Promise.resolve([]);
  }
  changedFiles(): Promise<null> {
    this.#enter('changedFiles');
    return Promise.resolve(null);
  }
  pullRequestFiles(): Promise<null> {
    this.#enter('pullRequestFiles');
    return Promise.resolve(null);
  }
  pullRequest(): Promise<undefined> {
    this.#enter('pullRequest');
    return Promise.resolve(undefined);
  }
  isOrgMember(): Promise<{ member: boolean }> {
    this.#enter('isOrgMember');
    return Promise.resolve({ member: false });
  }
  isOrganization(): Promise<boolean> {
    this.#enter('isOrganization');
    return Promise.resolve(true);
  }
  reactToComment(): Promise<void> {
    this.#enter('reactToComment');
    return Promise.resolve();
  }
  cloneCredentials(): Promise<{ url: string; expiresAt: number }> {
    this.#enter('cloneCredentials');
    return Promise.resolve({ url: 'https://example.invalid/repo.git', expiresAt: 0 });
  }

  async setStatus(repo: RepoRef, sha: string, status: CommitStatus): Promise<void> {
    this.#enter('setStatus');
    await new Promise((resolve) => setImmediate(resolve));
    // GitHub answers 422 for a description over its limit.
    if (status.description.length > this.maxStatusDescription) {
      throw new ForgeError('description is too long', { status: 422, retryable: false });
    }
    this.statusWrites.push({ ...status, repo: key(repo), sha });
  }

  findStickyComment(repo: RepoRef, pr: number, marker: string): Promise<IssueComment | undefined> {
    this.#enter('findStickyComment');
    const found = this.commentsOn(repo, pr).find((c) => c.author === this.botLogin && c.body.includes(marker));
    return Promise.resolve(found && { id: found.id, body: found.body });
  }

  createComment(repo: RepoRef, pr: number, body: string): Promise<IssueComment> {
    this.#enter('createComment');
    return this.#commentWrite(() => {
      if (body.length > this.maxCommentLength)
        throw new ForgeError('body is too long', { status: 422, retryable: false });
      const comment = this.seedComment(repo, pr, body, this.botLogin);
      return { id: comment.id, body };
    });
  }

  updateComment(repo: RepoRef, commentId: number, body: string): Promise<void> {
    this.#enter('updateComment');
    return this.#commentWrite(() => {
      const comment = this.comments.get(commentId);
      if (!comment || comment.repo !== key(repo)) throw new ForgeError('Not Found', { status: 404, retryable: false });
      // The app may edit only what it wrote (GitHub answers 403 for another user's comment).
      if (comment.author !== this.botLogin) throw new ForgeError('Forbidden', { status: 403, retryable: false });
      comment.body = body;
      comment.edits += 1;
    });
  }
}

export function retryable(): ForgeError {
  return new ForgeError('HTTP 502', { status: 502, retryable: true });
}

function key(repo: RepoRef): string {
  return `${repo.host}/${repo.owner}/${repo.name}`;
}
