import { describe, expect, it } from 'vitest';
import { Masker } from '../../runners/agent/masker.ts';
import {
  fixPositions,
  LineBuffer,
  MAX_ANNOTATIONS_PER_STEP,
  parseWorkflowCommand,
  WorkflowCommands,
} from '../../runners/agent/workflow-commands.ts';

/** What actions/toolkit's command.ts writes (escapeData / escapeProperty), to check the parser reads it back. */
function toolkitCommand(name: string, props: Record<string, string>, data: string): string {
  const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  const escapeProperty = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
  const entries = Object.entries(props).map(([k, v]) => `${k}=${escapeProperty(v)}`);
  return `::${name}${entries.length > 0 ? ` ${entries.join(',')}` : ''}::${escapeData(data)}`;
}

describe('parseWorkflowCommand (actions/runner ActionCommand.TryParseV2 / TryParse)', () => {
  it.each([
    ['::debug::hello', { name: 'debug', properties: {}, data: 'hello' }],
    ['  ::debug::leading space is trimmed', { name: 'debug', properties: {}, data: 'leading space is trimmed' }],
    ['::DEBUG::names ignore case', { name: 'debug', properties: {}, data: 'names ignore case' }],
    ['::endgroup::', { name: 'endgroup', properties: {}, data: '' }],
    ['::group::a::b', { name: 'group', properties: {}, data: 'a::b' }],
    [
      '::error file=a.ts,line=3,endLine=4,title=T::boom',
      { name: 'error', properties: { file: 'a.ts', line: '3', endline: '4', title: 'T' }, data: 'boom' },
    ],
    [
      '::error  file=a.ts::spaces before properties',
      { name: 'error', properties: { file: 'a.ts' }, data: 'spaces before properties' },
    ],
    ['::warning file=,line=2,=x,,k=v=w::m', { name: 'warning', properties: { line: '2', k: 'v=w' }, data: 'm' }],
    ['::notice title=a%3Ab%2Cc%25d%0Ae::x', { name: 'notice', properties: { title: 'a:b,c%d\ne' }, data: 'x' }],
    ['::debug::100%25 done%0Anext%0D', { name: 'debug', properties: {}, data: '100% done\nnext\r' }],
    // Data keeps %3A and %2C as written: only properties unescape them.
    ['::debug::a%3Ab%2C', { name: 'debug', properties: {}, data: 'a%3Ab%2C' }],
    // The unescapes apply in the runner's order, %25 last, so an escaped "%0A" stays literal.
    ['::debug::%250A', { name: 'debug', properties: {}, data: '%0A' }],
    ['::set-output name=x::v', { name: 'set-output', properties: { name: 'x' }, data: 'v' }],
    // The older form: anywhere in the line, ';' between properties, its own escapes.
    ['##[group]Title', { name: 'group', properties: {}, data: 'Title' }],
    ['prefix ##[warning]from a tool', { name: 'warning', properties: {}, data: 'from a tool' }],
    ['##[error file=a%3Bb.ts;line=2]m%5D', { name: 'error', properties: { file: 'a;b.ts', line: '2' }, data: 'm]' }],
  ])('%j', (line, expected) => {
    expect(parseWorkflowCommand(line)).toEqual(expected);
  });

  it.each([
    'plain text',
    '::unknown-command::x',
    '::debug no closing',
    'x ::debug::not at the start',
    ':: ::empty name',
    '##[unknown]x',
    '##[error no bracket',
  ])('%j is not a command', (line) => {
    expect(parseWorkflowCommand(line)).toBeUndefined();
  });

  it.each([
    ['error', { file: 'src/a,b:c.ts', line: '10', title: 'Title: with, commas' }, 'message with %, : and ,\nline 2'],
    ['warning', {}, '%25 literally, and %0A literally'],
    ['notice', { col: '1', endColumn: '5' }, '\r\n'],
  ])('reads back what actions/toolkit writes: %s', (name, props, data) => {
    const lower = Object.fromEntries(Object.entries(props).map(([k, v]) => [k.toLowerCase(), v]));
    expect(parseWorkflowCommand(toolkitCommand(name, props, data))).toEqual({ name, properties: lower, data });
  });
});

describe('fixPositions (the runner ValidateLinesAndColumns)', () => {
  it.each([
    [
      { line: '3', endline: '5' },
      { line: 3, endLine: 5 },
    ],
    [{ endline: '5' }, { line: 5, endLine: 5 }],
    [
      { line: '3', col: '2', endcolumn: '4' },
      { line: 3, col: 2, endColumn: 4 },
    ],
    [
      { line: '3', endcolumn: '4' },
      { line: 3, col: 4, endColumn: 4 },
    ],
    [{ col: '2' }, {}],
    [
      { line: '3', endline: '4', col: '2' },
      { line: 3, endLine: 4 },
    ],
    [{ line: '5', endline: '3' }, {}],
    [{ line: '1', col: '5', endcolumn: '2' }, { line: 1 }],
    [{ line: 'x', col: '1' }, {}],
  ])('%j → %j', (props, expected) => {
    expect(fixPositions(props)).toEqual(expected);
  });
});

/** Feeds lines to one step of a fresh order. */
function step(env: Record<string, string> = {}, masker = new Masker()) {
  const commands = new WorkflowCommands({ masker, workspace: '/work/ws' });
  const scope = commands.forStep(env);
  const printed: string[] = [];
  return {
    masker,
    commands,
    scope,
    printed,
    feed: (...lines: string[]) => {
      for (const line of lines) printed.push(...scope.line(line).map((p) => masker.mask(p)));
      return printed;
    },
  };
}

describe('WorkflowCommands', () => {
  it('add-mask prints nothing and masks every later line, each line of a multi-line value too', () => {
    const s = step();
    s.feed('::add-mask::s3cr3t-value', 'got s3cr3t-value here', '::add-mask::first line%0Asecond line');
    s.feed('first line', '  second line  ', 'first line%0Asecond line');
    expect(s.printed).toEqual(['got *** here', '***', '  ***  ', '***%0A***']);
  });

  it('add-mask of a blank value warns as the runner does', () => {
    expect(step().feed('::add-mask::   ')).toEqual([
      "##[warning]Can't add secret mask for empty string in ##[add-mask] command.",
    ]);
  });

  it('groups print as ##[group] / ##[endgroup]; unknown commands print as they are', () => {
    expect(step().feed('::group::Build it', 'inside', '::endgroup::', '::frobnicate::x')).toEqual([
      '##[group]Build it',
      'inside',
      '##[endgroup]',
      '::frobnicate::x',
    ]);
  });

  it('annotations: collected with positions, file made relative to the workspace, printed as ##[level]', () => {
    const s = step();
    s.feed('::error file=/work/ws/src/a.ts,line=3,col=2,endColumn=9,title=Bad::it broke', '::notice::fyi');
    expect(s.printed).toEqual(['##[error]it broke', '##[notice]fyi']);
    expect(s.scope.effects().annotations).toEqual([
      { level: 'error', message: 'it broke', title: 'Bad', file: 'src/a.ts', line: 3, col: 2, endColumn: 9 },
      { level: 'notice', message: 'fyi' },
    ]);
    expect(s.scope.effects().failed).toBe(false);
  });

  it(`keeps at most ${MAX_ANNOTATIONS_PER_STEP} annotations per level per step, printing them all`, () => {
    const s = step();
    for (let i = 0; i < 15; i++) s.feed(`::warning::w${i}`, `::error::e${i}`);
    const { annotations } = s.scope.effects();
    expect(annotations.filter((a) => a.level === 'warning')).toHaveLength(MAX_ANNOTATIONS_PER_STEP);
    expect(annotations.filter((a) => a.level === 'error')).toHaveLength(MAX_ANNOTATIONS_PER_STEP);
    expect(s.printed).toHaveLength(30);
  });

  it('masks annotation messages, titles and files', () => {
    const s = step();
    s.feed('::add-mask::hunter22', '::error title=t hunter22,file=hunter22.ts::pw hunter22');
    expect(s.scope.effects().annotations).toEqual([
      { level: 'error', message: 'pw ***', title: 't ***', file: '***.ts' },
    ]);
  });

  it('debug prints only with ACTIONS_STEP_DEBUG=true, which also turns echo on', () => {
    expect(step().feed('::debug::quiet', '::group::g')).toEqual(['##[group]g']);
    expect(step({ ACTIONS_STEP_DEBUG: 'true' }).feed('::debug::loud', '::group::g', '::add-mask::abcdef')).toEqual([
      '##[debug]loud',
      '::group::g',
      '##[group]g',
      '::add-mask::***',
    ]);
  });

  it('echo on/off echoes commands that are not OmitEcho; a bad value fails the step', () => {
    const s = step();
    s.feed('::echo::on', '::set-output name=a::1', '::echo::off', '::group::x');
    expect(s.printed[0]).toBe('::set-output name=a::1');
    expect(s.printed.at(-1)).toBe('##[group]x');
    s.feed('::echo::maybe');
    expect(s.scope.effects().failed).toBe(true);
  });

  it('stop-commands: commands are text until the token line, which is printed; the token is masked', () => {
    const s = step();
    s.feed(
      '::stop-commands::pause-token-1',
      '::group::not a group',
      '::add-mask::nope',
      '::pause-token-1::',
      '::group::g',
    );
    expect(s.printed).toEqual([
      '::stop-commands::***',
      '::group::not a group',
      '::add-mask::nope',
      '::***::',
      '##[group]g',
    ]);
    expect(s.masker.mask('nope')).toBe('nope');
  });

  it('stop-commands carries to the next step of the order, as on the runner', () => {
    const masker = new Masker();
    const commands = new WorkflowCommands({ masker, workspace: '/w' });
    commands.forStep({}).line('::stop-commands::tok');
    const next = commands.forStep({});
    expect(next.line('::group::x')).toEqual(['::group::x']);
    expect(next.line('::tok::')).toEqual(['::tok::']);
    expect(next.line('::group::x')).toEqual(['##[group]x']);
  });

  it.each(['', 'group', 'pause-logging'])('refuses the stop token %j and fails the step', (token) => {
    const s = step();
    s.feed(`::stop-commands::${token}`, '::group::still processed');
    expect(s.printed[1]).toMatch(/^##\[error\]You cannot use a endToken that is an empty string/);
    expect(s.printed[2]).toBe('##[group]still processed');
    expect(s.scope.effects().failed).toBe(true);
  });

  it('set-output and save-state work with the deprecation warning', () => {
    const s = step();
    s.feed('::set-output name=x::v%0A2', '::save-state name=pid::42');
    expect(s.printed).toEqual([
      '##[warning]The `set-output` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/',
      '##[warning]The `save-state` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/',
    ]);
    expect(s.scope.effects()).toMatchObject({ outputs: { x: 'v\n2' }, state: { pid: '42' }, failed: false });
  });

  it('set-output without a name fails the step with the runner message', () => {
    const s = step();
    s.feed('::set-output::v');
    expect(s.printed).toContain("##[error]Required field 'name' is missing in ##[set-output] command.");
    expect(s.scope.effects().failed).toBe(true);
  });

  it.each(['::set-env name=A::1', '::add-path::/opt/bin'])(
    '%s is refused with GitHub message and fails the step',
    (line) => {
      const s = step();
      s.feed(line);
      const name = line.slice(2, line.indexOf(line.includes(' ') ? ' ' : '::', 2));
      expect(s.printed).toEqual([
        `##[error]Unable to process command '${line}' successfully.`,
        `##[error]The \`${name}\` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the \`ACTIONS_ALLOW_UNSECURE_COMMANDS\` environment variable to \`true\`. For more information see: https://github.blog/changelog/2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/`,
      ]);
      expect(s.scope.effects()).toMatchObject({ failed: true, env: {}, path: [] });
      expect(s.scope.effects().annotations).toHaveLength(2);
    },
  );

  it('set-env and add-path work with ACTIONS_ALLOW_UNSECURE_COMMANDS=true; NODE_OPTIONS stays blocked', () => {
    const s = step({ ACTIONS_ALLOW_UNSECURE_COMMANDS: 'true' });
    s.feed(
      '::set-env name=A::1',
      '::add-path::/opt/a',
      '::add-path::/opt/b',
      '::add-path::/opt/a',
      '::set-env name=NODE_OPTIONS::x',
    );
    expect(s.scope.effects()).toMatchObject({ env: { A: '1' }, path: ['/opt/b', '/opt/a'], failed: false });
    expect(s.printed).toEqual(["##[error]Can't update NODE_OPTIONS environment variable using ::set-env:: command."]);
  });
});

describe('LineBuffer', () => {
  it('keeps a partial line until its newline, across chunks', () => {
    const b = new LineBuffer();
    expect(b.push('ab')).toEqual([]);
    expect(b.push('c\nde')).toEqual(['abc']);
    expect(b.push('f\n\ng')).toEqual(['def', '']);
    expect(b.end()).toBe('g');
    expect(b.end()).toBeUndefined();
  });
});
