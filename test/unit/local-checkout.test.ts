import { describe, expect, it } from 'vitest';
import { isLocalCheckout } from '../../runners/agent/actions/local-checkout.ts';
import type { RemoteActionRef } from '../../runners/agent/actions/action-fetcher.ts';

const github = { repository: 'local/repo', ref: 'refs/heads/main', sha: 'a'.repeat(40) };
const checkout: RemoteActionRef = { kind: 'remote', owner: 'actions', repo: 'checkout', ref: 'v4' };

describe('isLocalCheckout (act: actions/checkout of the run itself is skipped in a local run)', () => {
  it.each([
    ['the defaults', checkout, { repository: 'local/repo', ref: '' }, true],
    ['no inputs at all', checkout, {}, true],
    ['another case of the names', { ...checkout, owner: 'Actions', repo: 'Checkout' }, {}, true],
    ['the run ref', checkout, { ref: 'refs/heads/main' }, true],
    ['the run commit', checkout, { ref: github.sha }, true],
    ['the workspace itself as the path', checkout, { path: '.' }, true],
    ['another repository', checkout, { repository: 'acme/other' }, false],
    ['another ref', checkout, { ref: 'v1' }, false],
    ['a path inside the workspace', checkout, { path: 'sub' }, false],
    ['another action', { ...checkout, repo: 'setup-node' }, {}, false],
    ['a path in the action repository', { ...checkout, path: 'sub' }, {}, false],
    ['another source', { ...checkout, source: 'https://gitea.example' }, {}, false],
  ] as const)('%s', (_what, action, inputs, skipped) => {
    expect(isLocalCheckout(action, inputs, github)).toBe(skipped);
  });
});
