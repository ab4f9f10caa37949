import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';

/** GitHub's own example payloads (@octokit/webhooks-examples), copied before a test modifies them. */
interface ExampleGroup {
  readonly name: string;
  readonly examples: Record<string, unknown>[];
}

const examples = createRequire(import.meta.url)(
  '@octokit/webhooks-examples/api.github.com/index.json',
) as ExampleGroup[];

export function githubExample(name: string, pick: (p: Record<string, unknown>) => boolean): Record<string, unknown> {
  const found = examples.find((g) => g.name === name)?.examples.find(pick);
  if (!found) throw new Error(`no ${name} example`);
  return structuredClone(found);
}

/** GitHub's `X-Hub-Signature-256`: `sha256=` + hex HMAC-SHA256 of the raw body with the webhook secret. */
export function signGitHubBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
