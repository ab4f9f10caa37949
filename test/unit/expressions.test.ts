import { data } from '@actions/expressions';
import { describe, expect, it } from 'vitest';
import {
  MAX_EXPRESSION_LENGTH,
  coerceToString,
  contextsUsed,
  evaluateCondition,
  evaluateValue,
  expressionError,
  fromExpressionData,
  hasExpression,
  interpolate,
  propertiesRead,
  toExpressionData,
  type ExpressionContext,
  type JobStatus,
} from '../../src/core/workflow/expressions.ts';

const ctx: ExpressionContext = {
  github: {
    event_name: 'push',
    ref: 'refs/heads/main',
    ref_name: 'main',
    sha: 'abc123',
    event: { head_commit: { message: 'fix: things' }, labels: ['bug', 'ci'], nothing: null },
  },
  env: { GREETING: 'hello' },
  matrix: { os: 'linux', node: 20, experimental: false },
  needs: {
    build: { result: 'failure', outputs: { x: 'forty-two', json: '{"a":[1,2]}' } },
    lint: { result: 'success', outputs: {} },
  },
  steps: { s1: { outcome: 'success', conclusion: 'success', outputs: { v: '7' } } },
};

describe('evaluateCondition: status functions and the implicit success()', () => {
  const cases: { cond: string | undefined; status: JobStatus; want: boolean }[] = [
    // An empty or missing condition means success().
    { cond: undefined, status: 'success', want: true },
    { cond: undefined, status: 'failure', want: false },
    { cond: '', status: 'success', want: true },
    { cond: '   ', status: 'cancelled', want: false },
    // No status function: implicitly success() && (cond).
    { cond: "github.ref == 'refs/heads/main'", status: 'success', want: true },
    { cond: "github.ref == 'refs/heads/main'", status: 'failure', want: false },
    { cond: "github.ref == 'refs/heads/other'", status: 'success', want: false },
    // always() runs whatever happened.
    { cond: 'always()', status: 'success', want: true },
    { cond: 'always()', status: 'failure', want: true },
    { cond: 'always()', status: 'cancelled', want: true },
    // failure() after a failed need.
    { cond: 'failure()', status: 'failure', want: true },
    { cond: 'failure()', status: 'success', want: false },
    { cond: 'success()', status: 'success', want: true },
    { cond: 'cancelled()', status: 'cancelled', want: true },
    { cond: 'cancelled()', status: 'failure', want: false },
    // !cancelled() runs after success and failure, not after cancel.
    { cond: '!cancelled()', status: 'success', want: true },
    { cond: '!cancelled()', status: 'failure', want: true },
    { cond: '!cancelled()', status: 'cancelled', want: false },
    // Wrapped in ${{ }}, and case-insensitive function names.
    { cond: '${{ failure() }}', status: 'failure', want: true },
    { cond: '${{ Always() }}', status: 'failure', want: true },
    { cond: "${{ github.event_name == 'push' }}", status: 'failure', want: false },
    // A status function anywhere disables the implicit success().
    { cond: "always() && needs.build.result == 'failure'", status: 'failure', want: true },
    { cond: "needs.build.result == 'failure' || success()", status: 'failure', want: true },
    // needs.* under the implicit success().
    { cond: "needs.build.result == 'failure'", status: 'success', want: true },
    { cond: "needs.lint.result == 'success'", status: 'success', want: true },
    { cond: "needs.build.outputs.x == 'FORTY-TWO'", status: 'success', want: true }, // == ignores case
    // The word 'success()' inside a string literal is not a call.
    { cond: "github.ref == 'success()'", status: 'failure', want: false },
    // Truthiness of non-booleans.
    { cond: 'matrix.node', status: 'success', want: true },
    { cond: 'matrix.experimental', status: 'success', want: false },
    { cond: 'github.event.nothing', status: 'success', want: false },
    { cond: "contains(github.event.labels, 'ci')", status: 'success', want: true },
    // Text mixed with ${{ }} is a format() string: non-empty, hence truthy (GitHub's behaviour).
    { cond: "${{ github.ref }} == 'nope'", status: 'success', want: true },
  ];
  it.each(cases)('if: $cond with status $status → $want', ({ cond, status, want }) => {
    expect(evaluateCondition(cond, ctx, status)).toEqual({ ok: true, value: want });
  });

  it('reports a syntax error as a result, not a throw', () => {
    const result = evaluateCondition("github.ref == 'x", ctx, 'success');
    expect(result.ok).toBe(false);
  });

  it('reports an unknown context naming it', () => {
    const result = evaluateCondition('bogus.TOKEN', ctx, 'success');
    expect(result).toMatchObject({ ok: false });
    if (!result.ok) expect(result.error).toContain("'bogus'");
  });

  it('refuses secrets in if:, as GitHub does, even with the secret at hand', () => {
    const result = evaluateCondition("secrets.TOKEN != ''", { ...ctx, secrets: { TOKEN: 'x' } }, 'success');
    expect(result).toMatchObject({ ok: false });
    if (!result.ok) expect(result.error).toContain('secrets cannot be referenced directly in an if: condition');
  });
});

describe('interpolate', () => {
  const cases: { template: string; want: string }[] = [
    { template: 'no expressions here', want: 'no expressions here' },
    { template: 'echo ${{ matrix.os }}', want: 'echo linux' },
    { template: '${{ matrix.os }}-${{ matrix.node }}', want: 'linux-20' },
    { template: 'x${{github.sha}}y', want: 'xabc123y' },
    { template: 'msg=${{ github.event.head_commit.message }}', want: 'msg=fix: things' },
    { template: 'null=[${{ github.event.nothing }}]', want: 'null=[]' },
    { template: 'missing=[${{ github.event.nope.deeper }}]', want: 'missing=[]' },
    { template: 'bool=${{ matrix.experimental }}', want: 'bool=false' },
    { template: 'n=${{ 1.50 }}', want: 'n=1.5' },
    { template: 'n=${{ -0 }}', want: 'n=0' },
    { template: 'n=${{ 0xff }}', want: 'n=255' },
    { template: 'n=${{ 0.84551240822557006 }}', want: 'n=0.84551240822557' },
    { template: 'arr=${{ github.event.labels }}', want: 'arr=[\n  "bug",\n  "ci"\n]' },
    { template: '${{ toJSON(matrix) }}', want: '{\n  "os": "linux",\n  "node": 20,\n  "experimental": false\n}' },
    { template: "${{ format('{0}/{1}', github.ref_name, matrix.os) }}", want: 'main/linux' },
    { template: "${{ format('{{0}}', 'abc') }}", want: '{0}' },
    { template: "${{ join(github.event.labels, '+') }}", want: 'bug+ci' },
    { template: "${{ startsWith(github.ref, 'refs/heads/') }}", want: 'true' },
    { template: "${{ endsWith(github.ref, '/MAIN') }}", want: 'true' },
    { template: "${{ contains('Hello', 'ell') }}", want: 'true' },
    { template: '${{ fromJSON(needs.build.outputs.json).a[1] }}', want: '2' },
    { template: "${{ '}}' }}", want: '}}' },
    { template: "${{ 'it''s' }}", want: "it's" },
    { template: "${{ '{{ literal }}' }}", want: '{{ literal }}' },
    { template: "${{ github['ref_name'] }}", want: 'main' },
    { template: '${{ steps.s1.outputs.v }}', want: '7' },
    { template: '${{ env.GREETING }}', want: 'hello' },
  ];
  it.each(cases)('$template', ({ template, want }) => {
    expect(interpolate(template, ctx)).toEqual({ ok: true, value: want });
  });

  const errors: { template: string; fragment: string }[] = [
    { template: 'echo ${{ matrix.os', fragment: 'not closed' },
    { template: 'echo ${{ }}', fragment: 'An expression was expected' },
    { template: "${{ fromJSON('{') }}", fragment: 'JSON' },
    { template: "${{ format('{0}') }}", fragment: 'format string' },
    { template: "${{ hashFiles('**/go.sum') }}", fragment: "available only in a step's fields" },
    // Where the server evaluates (no secrets in the context), `secrets` is no context, as GitHub rules for those keys.
    { template: '${{ secrets.X }}', fragment: "Unrecognized named-value: 'secrets'" },
    { template: '${{ github.sha ==  }}', fragment: 'Unexpected' },
  ];
  it.each([
    ['${{ vars.NAME }}', { vars: { NAME: 'v' } }, 'v'],
    ['[${{ vars.UNKNOWN }}]', { vars: { NAME: 'v' } }, '[]'],
    ['[${{ vars.NAME }}]', {}, '[]'],
    ['${{ vars.name }}', { vars: { NAME: 'v' } }, 'v'],
    ['[${{ inputs.x }}]', {}, '[]'],
    ['${{ inputs.n == 2 }}', { inputs: { n: 2 } }, 'true'],
  ] as const)('vars and inputs: %s', (template, ctx, expected) => {
    expect(interpolate(template, ctx)).toEqual({ ok: true, value: expected });
  });

  it.each(errors)('error: $template', ({ template, fragment }) => {
    const result = interpolate(template, ctx);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(fragment);
  });

  it('refuses an expression over the length bound', () => {
    const long = `\${{ '${'a'.repeat(MAX_EXPRESSION_LENGTH)}' }}`;
    const result = interpolate(long, ctx);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(String(MAX_EXPRESSION_LENGTH));
  });
});

describe('evaluateValue', () => {
  const cases: { template: string; want: unknown }[] = [
    { template: 'plain', want: 'plain' },
    { template: '${{ matrix.node }}', want: 20 },
    { template: '${{ matrix.experimental }}', want: false },
    { template: '${{ github.event.nothing }}', want: null },
    { template: '${{ fromJSON(\'[1, {"a": true}]\') }}', want: [1, { a: true }] },
    { template: '${{ fromJSON(\'{"x": null}\') }}', want: { x: null } },
    { template: '${{ github.event.labels }}', want: ['bug', 'ci'] },
    { template: 'v${{ matrix.node }}', want: 'v20' },
    { template: ' ${{ matrix.node }}', want: ' 20' },
    { template: '${{ matrix.node }}${{ matrix.os }}', want: '20linux' },
  ];
  it.each(cases)('$template', ({ template, want }) => {
    expect(evaluateValue(template, ctx)).toEqual({ ok: true, value: want });
  });
});

describe('the secrets context', () => {
  it('reads a secret in a template; a missing one is empty, as on GitHub', () => {
    const withSecrets: ExpressionContext = { ...ctx, secrets: { NPM_TOKEN: 'npm_x' } };
    expect(interpolate('token=${{ secrets.NPM_TOKEN }}', withSecrets)).toEqual({ ok: true, value: 'token=npm_x' });
    expect(interpolate('token=${{ secrets.npm_token }}', withSecrets)).toEqual({ ok: true, value: 'token=npm_x' });
    expect(interpolate('[${{ secrets.MISSING }}]', withSecrets)).toEqual({ ok: true, value: '[]' });
  });
});

describe('expressionError', () => {
  const cases: { source: string; kind: 'condition' | 'template'; bad: string | undefined }[] = [
    { source: 'echo hi', kind: 'template', bad: undefined },
    { source: 'echo ${{ github.sha }}', kind: 'template', bad: undefined },
    { source: 'echo ${{ github.sha', kind: 'template', bad: 'not closed' },
    { source: 'echo ${{ secrets.TOKEN }}', kind: 'template', bad: undefined },
    { source: 'echo ${{ vars.TOKEN }}', kind: 'template', bad: undefined },
    { source: 'echo ${{ bogus.TOKEN }}', kind: 'template', bad: 'bogus' },
    { source: "secrets.TOKEN != ''", kind: 'condition', bad: 'secrets cannot be referenced directly' },
    { source: '${{ env.TOKEN && secrets.X }}', kind: 'condition', bad: 'secrets cannot be referenced directly' },
    { source: "env.TOKEN != ''", kind: 'condition', bad: undefined },
    { source: 'echo ${{ success() }}', kind: 'template', bad: 'Unrecognized function' },
    { source: "echo ${{ hashFiles('x') }}", kind: 'template', bad: 'hashFiles' },
    { source: 'hashFiles()', kind: 'condition', bad: 'hashFiles' },
    { source: "echo ${{ contains('a') }}", kind: 'template', bad: 'Too few parameters' },
    { source: 'echo ${{ a b }}', kind: 'template', bad: 'Unrecognized named-value' },
    { source: '${{ 1 == }}', kind: 'template', bad: 'Unexpected' },
    { source: '', kind: 'condition', bad: undefined },
    { source: 'success()', kind: 'condition', bad: undefined },
    { source: '${{ always() }}', kind: 'condition', bad: undefined },
    { source: "needs.build.result == 'failure'", kind: 'condition', bad: undefined },
    { source: 'failure(1)', kind: 'condition', bad: 'Too many parameters' },
    { source: "github.ref == 'x", kind: 'condition', bad: 'Unexpected symbol' },
    { source: '${{ github.ref', kind: 'condition', bad: 'not closed' },
    { source: "inputs.x == 'a' && vars.Y", kind: 'condition', bad: undefined },
    { source: 'secrets.x', kind: 'condition', bad: 'secrets' },
    { source: 'vars2.x', kind: 'condition', bad: 'vars2' },
    { source: 'x'.repeat(MAX_EXPRESSION_LENGTH + 1), kind: 'condition', bad: 'maximum' },
  ];
  it.each(cases)('$kind: $source', ({ source, kind, bad }) => {
    const error = expressionError(source, kind);
    if (bad === undefined) expect(error).toBeUndefined();
    else expect(error).toContain(bad);
  });

  const stepCases: { source: string; kind: 'condition' | 'template'; bad: string | undefined }[] = [
    { source: "echo ${{ hashFiles('x') }}", kind: 'template', bad: undefined },
    { source: "echo ${{ HASHFILES('a', '!b') }}", kind: 'template', bad: undefined },
    { source: "hashFiles('x') != ''", kind: 'condition', bad: undefined },
    { source: 'echo ${{ hashFiles() }}', kind: 'template', bad: 'Too few parameters' },
    { source: 'echo ${{ success() }}', kind: 'template', bad: 'Unrecognized function' },
  ];
  it.each(stepCases)('step scope, $kind: $source', ({ source, kind, bad }) => {
    const error = expressionError(source, kind, 'step');
    if (bad === undefined) expect(error).toBeUndefined();
    else expect(error).toContain(bad);
  });
});

describe('hashFiles() with the step functions supplied', () => {
  const calls: string[][] = [];
  const stepCtx: ExpressionContext = {
    ...ctx,
    functions: {
      hashFiles: (patterns) => {
        calls.push([...patterns]);
        return patterns.includes('none') ? '' : `h(${patterns.join('|')})`;
      },
    },
  };

  it('passes every argument coerced to a string and splices the result', () => {
    calls.length = 0;
    expect(interpolate("k-${{ hashFiles('**/go.sum', matrix.node, '!x') }}", stepCtx)).toEqual({
      ok: true,
      value: 'k-h(**/go.sum|20|!x)',
    });
    expect(calls).toEqual([['**/go.sum', '20', '!x']]);
  });

  it('works in a step condition, with the implicit success()', () => {
    expect(evaluateCondition("hashFiles('none') == ''", stepCtx, 'success')).toEqual({ ok: true, value: true });
    expect(evaluateCondition("hashFiles('a') != ''", stepCtx, 'failure')).toEqual({ ok: true, value: false });
  });

  it('turns a throw of the function into an error result', () => {
    const throwing: ExpressionContext = {
      functions: {
        hashFiles: () => {
          throw new Error("Invalid pattern '../x'");
        },
      },
    };
    const result = interpolate("${{ hashFiles('../x') }}", throwing);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain("Invalid pattern '../x'");
  });
});

describe('hasExpression and contextsUsed', () => {
  it.each([
    ['plain', false],
    ['${{ x }}', true],
    ['{{ x }}', false],
    ['$ {{ x }}', false],
  ] as const)('hasExpression(%j) = %s', (source, want) => {
    expect(hasExpression(source)).toBe(want);
  });

  it('lists the contexts a template reads, lower-cased, ignoring function names and string literals', () => {
    expect(contextsUsed("${{ Matrix.os }}-${{ format('{0}', steps.a.outputs.b) }}-${{ 'github' }}")).toEqual(
      new Set(['matrix', 'steps']),
    );
    expect(contextsUsed('${{ github.event.*.x }}')).toEqual(new Set(['github']));
    expect(contextsUsed('${{ broken')).toBeUndefined();
  });
});

describe('propertiesRead', () => {
  it.each([
    ['${{ inputs.Version }}', ['version']],
    ["${{ inputs['os'] }}-${{ format('{0}', inputs.arch) }}", ['os', 'arch']],
    ['${{ inputs.a.b }}', ['a']],
    ['${{ toJSON(inputs) }}', ['*']],
    ['${{ inputs[matrix.key] }}', ['*']],
    ['${{ github.event.inputs.x }}', []],
    ['${{ always() && inputs.deploy }}', ['deploy']],
  ])('%s reads %j of inputs', (template, names) => {
    expect([...(propertiesRead(template, 'inputs') ?? [])]).toEqual(names);
  });

  it('is undefined for a template that does not parse', () => {
    expect(propertiesRead('${{ inputs. }}', 'inputs')).toBeUndefined();
  });
});

describe('JS values <-> expression data', () => {
  const roundTrips: unknown[] = [
    null,
    true,
    false,
    0,
    -1.5,
    'text',
    '',
    [],
    [1, 'a', null],
    {},
    { a: { b: [1, { c: false }] } },
  ];
  it.each(roundTrips.map((value) => [JSON.stringify(value), value]))('round-trips %s', (_label, value) => {
    expect(fromExpressionData(toExpressionData(value))).toEqual(value);
  });

  it('maps undefined, functions and symbols to null', () => {
    expect(fromExpressionData(toExpressionData(undefined))).toBeNull();
    expect(fromExpressionData(toExpressionData(() => 1))).toBeNull();
    expect(fromExpressionData(toExpressionData(Symbol('s')))).toBeNull();
  });

  it('never lets a __proto__ key reach a prototype (the library Dictionary drops the key)', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}') as unknown;
    const back = fromExpressionData(toExpressionData(value)) as Record<string, unknown>;
    expect(back).toEqual({ ok: 1 });
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('stops at a cycle instead of looping', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    const converted = toExpressionData(cyclic);
    expect(converted.kind).toBe(data.Kind.Dictionary);
  });

  it('coerces to strings the way GitHub does (actions/languageservices testdata coerce_string.json)', () => {
    expect(coerceToString(new data.Null())).toBe('');
    expect(coerceToString(new data.BooleanData(true))).toBe('true');
    expect(coerceToString(new data.NumberData(123456.789))).toBe('123456.789');
    expect(coerceToString(new data.NumberData(-0))).toBe('0');
    expect(coerceToString(new data.NumberData(Infinity))).toBe('Infinity');
    expect(coerceToString(new data.NumberData(NaN))).toBe('NaN');
    expect(coerceToString(toExpressionData({ a: 1 }))).toBe('{\n  "a": 1\n}');
  });
});
