/**
 * Feature-audit finding: two replicas that both render a pull request's first sticky comment each found no comment
 * and each created one. Replayed with two reporters on one store and one forge, both looking before either
 * creates: the creation is claimed in the store, so the PR gets one comment, which the other replica then edits.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMENT_MARKER } from '../../src/core/render/comment.ts';
import type { RepoRef } from '../../src/core/types.ts';
import type { IssueComment } from '../../src/forges/forge.ts';
import { createForgeReporter } from '../../src/forges/reporter/forge-reporter.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import { createIsolatedStore, makeOrder, makeRun, REPO, startTestStore } from '../helpers/dynalite.ts';
import { FakeForge } from '../helpers/fake-forge.ts';

const silent = pino({ level: 'silent' });
const PR = 7;

/** The first `lookers` marker searches answer only once all of them were made: every replica looks before any creates. */
class RacingForge extends FakeForge {
  readonly #waiting: (() => void)[] = [];
  #lookers: number;

  constructor(lookers: number) {
    super();
    this.#lookers = lookers;
  }

  override async findStickyComment(repo: RepoRef, pr: number, marker: string): Promise<IssueComment | undefined> {
    const answer = await super.findStickyComment(repo, pr, marker);
    if (this.#lookers > 0) {
      this.#lookers -= 1;
      if (this.#lookers > 0) await new Promise<void>((resolve) => this.#waiting.push(resolve));
      else for (const resolve of this.#waiting.splice(0)) resolve();
    }
    return answer;
  }
}

let embedded: EmbeddedStore;
beforeAll(async () => {
  embedded = await startTestStore();
});
afterAll(async () => {
  await embedded.close();
});

describe('the first sticky comment of a pull request', () => {
  it('is created once by two replicas racing on one store', async () => {
    const store = await createIsolatedStore(embedded.client);
    const run = makeRun('run-race', { pr: PR, orderCount: 1 });
    expect(await store.createRun(run, [makeOrder(run.runId, 'o.1')])).toBe(true);
    const forge = new RacingForge(2);
    const replica = () =>
      createForgeReporter({
        store,
        forges: { forRun: () => Promise.resolve(forge) },
        publicUrl: 'https://ci.example.com',
        logger: silent,
        retryDelayMs: 0,
      });
    const [a, b] = [replica(), replica()];

    await Promise.all([a.runChanged(run), b.runChanged(run)]);
    await Promise.all([a.idle(), b.idle()]);

    const onPr = forge.commentsOn(REPO, PR);
    expect(onPr).toHaveLength(1);
    expect(onPr[0]!.body).toContain(COMMENT_MARKER);
    expect(forge.calls.filter((c) => c.method === 'createComment')).toHaveLength(1);

    // Both replicas keep writing to that one comment.
    await Promise.all([
      a.notice({ repo: REPO, pr: PR, forge }, 'from a'),
      b.notice({ repo: REPO, pr: PR, forge }, 'from b'),
    ]);
    await Promise.all([a.idle(), b.idle()]);
    expect(forge.commentsOn(REPO, PR)).toHaveLength(1);
    expect(forge.calls.filter((c) => c.method === 'createComment')).toHaveLength(1);
  });
});
