/**
 * The leak hunt (issue 15, items 3 and 7): orders with secrets run end to end — the orchestrator, the real local
 * runner, jobs built as the server builds them (buildOrderJob plus the order's secrets opened from a real
 * SecretStore on dynalite), the forge reporter writing statuses and the sticky comment to a FakeForge, a pino logger
 * writing to a captured stream. The steps print every secret plainly, base64, URL-encoded, JSON-escaped, line by
 * line, and put it in a step name, a job output, an annotation, the step summary and a failing step's reason. Then
 * everything produced is scanned for every secret in every one of those forms: each report the runner sent (log
 * chunks, step results, the final report), every file under the runner's data folder, a raw Scan of the table,
 * every call made to the forge, every line the logger wrote.
 */
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGithubContext } from '../../src/core/github-context.ts';
import { planRun } from '../../src/core/plan.ts';
import type { RunPlan, RunRecord, RunTrust, StepResult } from '../../src/core/types.ts';
import { parseWorkflowFiles } from '../../src/core/workflow/parse-workflow.ts';
import { createForgeReporter } from '../../src/forges/reporter/forge-reporter.ts';
import { orderSecretsReader } from '../../src/server/order-secrets.ts';
import { localDataKeys } from '../../src/store/data-keys.ts';
import { createDynamoStore, type DynamoStore } from '../../src/store/dynamodb.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import { createSecretStore } from '../../src/store/secret-store.ts';
import { createLocalRunner, type LocalRunner } from '../../runners/local.ts';
import { buildOrderJob } from '../../runners/order-job.ts';
import type { AgentReport, OrderRef } from '../../runners/runner.ts';
import { makeTwoCommitRepo } from '../helpers/e2e-repo.ts';
import { REPO, startTestStore } from '../helpers/dynalite.ts';
import { FakeForge } from '../helpers/fake-forge.ts';
import { leaksIn as scanForLeaks } from '../helpers/leak-forms.ts';
import { createOrchestratorHarness, testRunInput } from '../helpers/orchestrator-harness.ts';

/** Characters that URL-encoding and JSON escaping change, so each form differs from the value. */
const DEPLOY_TOKEN = 'tok/en+Va1ue&"quoted"?=ZK9';
const MULTI_LINE = 'first-line-Q7W8\nsecond-line-E5R6\n\tthird-line-T1Y2';
/** Marked for approved outsiders. */
const OPEN_VALUE = 'outsider-ok-P3L2';
/** The order's GITHUB_TOKEN, as the server would hand it out. */
const ORDER_TOKEN = 'ghs_orderToken0123456789abcdef';
/** Built at run time by a step (so not in the workflow text) and masked with `::add-mask::`. */
const COMPUTED = 'computed-mask-H4J5';
const SECRETS = { DEPLOY_TOKEN, MULTI_LINE, OPEN_VALUE, ORDER_TOKEN, COMPUTED };

const WORKFLOW = `name: deploy
on: pull_request
jobs:
  deploy:
    runs-on: local
    env:
      TOKEN: \${{ secrets.DEPLOY_TOKEN }}
      MULTI: \${{ secrets.MULTI_LINE }}
      OPEN: \${{ secrets.OPEN_VALUE }}
    outputs:
      leaked: \${{ steps.out.outputs.leaked }}
      kept: \${{ steps.out.outputs.kept }}
    steps:
      - name: encodings
        run: |
          echo "plain=$TOKEN"
          echo "token-length=\${#TOKEN} multi-length=\${#MULTI}"
          echo "open-sha=$(printf %s "$OPEN" | sha256sum | cut -d' ' -f1)"
          echo "base64=$(printf %s "$TOKEN" | base64 -w0)"
          node -e 'console.log("url=" + encodeURIComponent(process.env.TOKEN)); console.log("json=" + JSON.stringify(process.env.TOKEN))'
          echo "order-token=\${{ github.token }}"
      - name: lines
        run: |
          printf '%s\\n' "$MULTI" | sed 's/^/line=/'
          echo "multi-base64=$(printf %s "$MULTI" | base64 -w0)"
      - id: out
        name: deploy as \${{ secrets.DEPLOY_TOKEN }}
        run: |
          echo "leaked=x\${TOKEN}y" >> "$GITHUB_OUTPUT"
          echo "kept=fine" >> "$GITHUB_OUTPUT"
          echo "::error title=t $TOKEN::annotated $TOKEN"
          echo "::warning::warned $(printf %s "$TOKEN" | base64 -w0)"
          echo "## summary $TOKEN $(printf %s "$TOKEN" | base64 -w0)" >> "$GITHUB_STEP_SUMMARY"
          V=$(printf 'computed-%s-%s' mask H4J5)
          echo "::add-mask::$V"
          echo "after-mask=$V"
          echo "## masked later $V" >> "$GITHUB_STEP_SUMMARY"
      - name: split, stderr, groups
        run: |
          printf 'split=%s' "\${TOKEN:0:9}"; sleep 0.3; printf '%s\\n' "\${TOKEN:9}"
          echo "stderr=$TOKEN" >&2
          echo "::group::group $TOKEN"
          echo "::notice file=$TOKEN,title=n::noticed"
          echo "::debug::debugged $TOKEN"
          echo "::endgroup::"
      - name: a long line
        run: |
          head -c $((1024 * 1024 - 5)) /dev/zero | tr '\\0' x
          sleep 0.3; printf %s "\${TOKEN:0:10}"; sleep 0.3; printf '%s\\n' "\${TOKEN:10}"
      - name: a bad expression
        continue-on-error: true
        run: echo \${{ fromJSON(secrets.DEPLOY_TOKEN) }}
      - name: fails with \${{ secrets.DEPLOY_TOKEN }}
        run: echo "failing with $TOKEN"; exit 3
`;

let embedded: EmbeddedStore;
let store: DynamoStore;
let dir: string;
let repo: string;
let sha: string;
const table = `test-leaks-${String(process.pid)}`;
const logLines: string[] = [];
const reports: { ref: OrderRef; report: AgentReport }[] = [];
const forge = new FakeForge();
const runs = new Map<string, RunRecord>();
let runner: LocalRunner;
let harness: ReturnType<typeof createOrchestratorHarness>;
let reporter: ReturnType<typeof createForgeReporter>;

function planOf(text: string): RunPlan {
  const { workflows, diagnostics } = parseWorkflowFiles([{ path: '.spotcheck/workflows/deploy.yml', text }]);
  expect(diagnostics).toEqual([]);
  const github = buildGithubContext({
    event: 'pull_request',
    ref: 'refs/pull/7/head',
    sha,
    repository: `${REPO.owner}/${REPO.name}`,
    actor: 'alice',
    serverUrl: `https://${REPO.host}`,
    workflow: 'deploy',
  });
  const [workflow] = workflows;
  if (workflow === undefined) throw new Error('no workflow');
  const planned = planRun({ workflow, github });
  if (!planned.ok) throw new Error(JSON.stringify(planned.diagnostics));
  return planned.plan;
}

beforeAll(async () => {
  embedded = await startTestStore();
  store = createDynamoStore({ client: embedded.client, table });
  await store.ensureTable();
  ({ dir, repo, first: sha } = await makeTwoCommitRepo('spotcheck-leaks-'));
  // The secrets share the orders' table, so one Scan sees everything stored.
  const secrets = createSecretStore({ client: embedded.client, table, keys: localDataKeys(join(dir, 'secrets.key')) });
  const org = { level: 'org', forge: REPO.forge, host: REPO.host, owner: REPO.owner } as const;
  await secrets.set({ level: 'repo', repo: REPO }, 'DEPLOY_TOKEN', DEPLOY_TOKEN, { outsiders: false });
  await secrets.set(org, 'MULTI_LINE', MULTI_LINE, { outsiders: false });
  await secrets.set({ level: 'repo', repo: REPO }, 'OPEN_VALUE', OPEN_VALUE, { outsiders: true });
  const secretsFor = orderSecretsReader(secrets);

  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  reporter = createForgeReporter({
    store,
    forges: { forRun: () => Promise.resolve(forge) },
    publicUrl: 'https://ci.example.com/',
    logger: logger.child({ name: 'reporter' }),
    retryDelayMs: 0,
  });
  runner = createLocalRunner({
    // Every report the runner sends is kept, then handed to the orchestrator as the server's sink does.
    sink: { report: (ref, report) => (reports.push({ ref, report }), harness.orchestrator.report(ref, report)) },
    dataDir: join(dir, 'data'),
    baseEnv: () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }),
    logger: logger.child({ name: 'local-runner' }),
    logFlushMs: 20,
  });
  harness = createOrchestratorHarness({
    store,
    runner,
    logger: logger.child({ name: 'orchestrator' }),
    reporter: {
      orderChanged: (run, order) => reporter.orderChanged(run, order),
      async runChanged(run) {
        await reporter.runChanged(run);
        runs.set(run.runId, run);
      },
    },
    // As src/app/app.ts builds a local order's job: the clone URL, the order's token, then its secrets.
    jobFor: async (run, order, needs) => {
      const job = buildOrderJob(run, order, needs, repo, undefined, { token: ORDER_TOKEN });
      const opened = await secretsFor(run, order);
      return Object.keys(opened).length === 0 ? job : { ...job, secrets: opened };
    },
  });
  const plan = planOf(WORKFLOW);
  for (const [runId, pr, trust] of [
    ['leaks-member', 7, 'member'],
    ['leaks-outsider', 8, 'approved-outsider'],
  ] as const satisfies readonly (readonly [string, number, RunTrust])[]) {
    await harness.orchestrator.startRun({
      ...testRunInput({ runId, repo: REPO, plan, sha, actor: 'alice', pr }),
      trust,
    });
  }
  await runner.idle();
  await reporter.idle();
}, 60_000);

afterAll(async () => {
  await runner.idle();
  await embedded.close();
  await rm(dir, { recursive: true, force: true });
});

/** `channel: SECRET (form)` for each secret form found in the text. */
function leaksIn(channel: string, text: string): string[] {
  return scanForLeaks(channel, text, SECRETS);
}

async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

async function scanTable(): Promise<string[]> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await embedded.client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  // Binary attributes (sealed values) read as text, so a value stored as bytes is found too.
  return items.map((item) =>
    JSON.stringify(item, (_key, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v)),
  );
}

async function runLogOf(runId: string): Promise<string> {
  const files = (await filesUnder(join(dir, 'data', 'logs'))).filter((f) => f.includes(runId));
  expect(files).toHaveLength(1);
  return readFile(files[0] ?? '', 'utf8');
}

const reportsOf = (runId: string): AgentReport[] => reports.filter((r) => r.ref.runId === runId).map((r) => r.report);

function finalOf(runId: string): AgentReport & { readonly type: 'finished' } {
  const final = reportsOf(runId).find((r) => r.type === 'finished');
  if (final?.type !== 'finished') throw new Error(`no finished report for ${runId}`);
  return final;
}

const stepResultsOf = (runId: string): StepResult[] =>
  reportsOf(runId).flatMap((r) => (r.type === 'step' ? [r.result] : []));

describe('the leak hunt', () => {
  it("a member's run gets every secret, masked wherever the steps put it", async () => {
    expect(runs.get('leaks-member')?.status).toBe('failed');
    const log = await runLogOf('leaks-member');
    // Delivered (the lengths, and the masks where the values were) and masked in every encoding and line.
    expect(log).toContain(`token-length=${String(DEPLOY_TOKEN.length)} multi-length=${String(MULTI_LINE.length)}\n`);
    expect(log).toContain(`open-sha=${sha256(OPEN_VALUE)}\n`);
    for (const line of ['plain=***', 'base64=***', 'url=***', 'json="***"', 'order-token=***', 'after-mask=***']) {
      expect(log).toContain(`${line}\n`);
    }
    expect(log).toContain('line=***\nline=***\nline=\t***\n');
    expect(log).toContain('multi-base64=***\n');
    expect(log).toContain('split=***\n');
    expect(log).toContain('stderr=***\n');
    expect(log).toContain('##[group]group ***\n');
    expect(log).toContain("Skip output 'leaked' since it may contain secret.");

    const final = finalOf('leaks-member');
    expect(final.outputs).toEqual({ kept: 'fine' });
    expect(final.reason).toBe("step 'fails with ***' failed");
    const steps = stepResultsOf('leaks-member');
    expect(steps.map((s) => s.name)).toEqual([
      'encodings',
      'lines',
      'deploy as ***',
      'split, stderr, groups',
      'a long line',
      'a bad expression',
      'fails with ***',
    ]);
    const annotated = steps[2];
    expect(annotated?.annotations?.map((a) => [a.level, a.title, a.message])).toEqual([
      ['error', 't ***', 'annotated ***'],
      ['warning', undefined, 'warned ***'],
    ]);
    expect(annotated?.summary).toBe('## summary *** ***\n## masked later ***\n');
  });

  it("an approved outsider's run gets only the secret marked for outsiders", async () => {
    expect(runs.get('leaks-outsider')?.status).toBe('failed');
    const log = await runLogOf('leaks-outsider');
    expect(log).toContain('token-length=0 multi-length=0\n');
    expect(log).toContain(`open-sha=${sha256(OPEN_VALUE)}\n`);
    expect(stepResultsOf('leaks-outsider').map((s) => s.name)).toEqual([
      'encodings',
      'lines',
      'deploy as ',
      'split, stderr, groups',
      'a long line',
      'a bad expression',
      'fails with ',
    ]);
  });

  it('no secret, in any form, is in anything the runs produced', async () => {
    const found: string[] = [];
    for (const { ref, report } of reports)
      found.push(...leaksIn(`${report.type} report of ${ref.runId}`, JSON.stringify(report)));
    const files = await filesUnder(join(dir, 'data'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      // A value cut in two by a line break is a leak too.
      found.push(...leaksIn(`file ${file}`, text), ...leaksIn(`file ${file}, lines joined`, text.replaceAll('\n', '')));
    }
    const items = await scanTable();
    expect(items.length).toBeGreaterThan(0);
    for (const item of items) found.push(...leaksIn('table item', item));
    expect(forge.statuses.length).toBeGreaterThan(0);
    for (const status of forge.statuses) found.push(...leaksIn('commit status', status.description));
    const comments = [...forge.comments.values()];
    expect(comments.map((c) => c.pr).sort()).toEqual([7, 8]);
    for (const comment of comments) found.push(...leaksIn('comment', comment.body));
    for (const call of forge.calls) found.push(...leaksIn(`forge call ${call.method}`, JSON.stringify(call.args)));
    expect(logLines.length).toBeGreaterThan(0);
    for (const line of logLines) found.push(...leaksIn('server log', line));
    expect([...new Set(found)]).toEqual([]);
  });
});

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
