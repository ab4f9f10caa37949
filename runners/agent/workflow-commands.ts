/**
 * GitHub's workflow commands, read from what a step prints, as actions/runner reads them (ActionCommand.cs parses,
 * ActionCommandManager.cs acts) and actions/toolkit writes them (packages/core/src/command.ts):
 * `::name key=value,key=value::data`, and the older `##[name key=value;key=value]data`.
 *
 * `parseWorkflowCommand` is pure. A `WorkflowCommands` lives for one order (masks and `::stop-commands::` carry from
 * step to step, as on the runner); `forStep` gives the per-step scope every process of the step writes through,
 * which says what to print for each line and collects what the commands did (annotations, outputs, state, …).
 */
import path from 'node:path';
import type { Annotation } from '../../src/core/types.ts';
import type { Masker } from './masker.ts';

/**
 * Annotations kept on a StepResult, per level (error, warning, notice) per step: the runner's
 * `_maxCountPerIssueType` (ExecutionContext.cs). Past it they are still printed, as on GitHub, but not kept.
 */
export const MAX_ANNOTATIONS_PER_STEP = 10;
/** The runner's `_maxIssueMessageLength`: longer annotation messages are cut. */
export const MAX_ANNOTATION_MESSAGE = 4096;
/** A line longer than this without a newline is processed as it stands, so a step cannot make the agent hoard. */
export const MAX_PARTIAL_LINE = 1024 * 1024;

/** The commands the runner registers; any other name is not a command and the line is printed as it is. */
const COMMANDS = new Set([
  'stop-commands',
  'set-env',
  'set-output',
  'save-state',
  'add-mask',
  'add-path',
  'add-matcher',
  'remove-matcher',
  'debug',
  'warning',
  'error',
  'notice',
  'group',
  'endgroup',
  'echo',
]);

/** Commands the runner does not echo when echo is on (their extension's `OmitEcho`). */
const OMIT_ECHO = new Set(['add-mask', 'debug', 'warning', 'error', 'notice']);

/** Constants.Runner's messages, word for word. */
const DISABLED = (name: string): string =>
  `The \`${name}\` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the \`ACTIONS_ALLOW_UNSECURE_COMMANDS\` environment variable to \`true\`. For more information see: https://github.blog/changelog/2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/`;
const DEPRECATED = (name: string): string =>
  `The \`${name}\` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/`;
const BAD_STOP_TOKEN =
  "You cannot use a endToken that is an empty string, the string 'pause-logging', or another workflow command. For more information see: https://docs.github.com/actions/learn-github-actions/workflow-commands-for-github-actions#example-stopping-and-starting-workflow-commands or opt into insecure command execution by setting the `ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS` environment variable to `true`.";

export interface WorkflowCommand {
  /** Lower-cased: the runner matches names case-insensitively. */
  readonly name: string;
  /** Keys lower-cased (the runner's property dictionary ignores case); values unescaped. */
  readonly properties: Readonly<Record<string, string>>;
  readonly data: string;
}

/** Unescaping as the runner does it: each mapping replaced in turn, `%25` last. */
const DATA_ESCAPES = [
  ['%0D', '\r'],
  ['%0A', '\n'],
  ['%25', '%'],
] as const;
const PROPERTY_ESCAPES = [
  ['%0D', '\r'],
  ['%0A', '\n'],
  ['%3A', ':'],
  ['%2C', ','],
  ['%25', '%'],
] as const;
const LEGACY_ESCAPES = [
  ['%3B', ';'],
  ['%0D', '\r'],
  ['%0A', '\n'],
  ['%5D', ']'],
  ['%25', '%'],
] as const;

function unescape(text: string, mappings: readonly (readonly [string, string])[]): string {
  let result = text;
  for (const [escaped, plain] of mappings) result = result.replaceAll(escaped, plain);
  return result;
}

/**
 * One printed line as a command, or undefined when it is not one. `known` says which names are commands (the
 * runner's registered set: a name it does not know leaves the line plain text). The `::` form must start the line
 * (after leading whitespace); the `##[` form may appear anywhere in it, as in ActionCommand.TryParse.
 */
export function parseWorkflowCommand(
  line: string,
  known: (name: string) => boolean = (name) => COMMANDS.has(name),
): WorkflowCommand | undefined {
  return parseV2(line, known) ?? parseLegacy(line, known);
}

function parseV2(line: string, known: (name: string) => boolean): WorkflowCommand | undefined {
  const message = line.trimStart();
  if (!message.startsWith('::')) return undefined;
  const end = message.indexOf('::', 2);
  if (end < 0) return undefined;
  const info = message.slice(2, end);
  const space = info.indexOf(' ');
  const name = (space < 0 ? info : info.slice(0, space)).toLowerCase();
  if (name === '' || !known(name)) return undefined;
  const properties = space > 0 ? readProperties(info.slice(space + 1).trim(), ',', PROPERTY_ESCAPES) : {};
  return { name, properties, data: unescape(message.slice(end + 2), DATA_ESCAPES) };
}

function parseLegacy(line: string, known: (name: string) => boolean): WorkflowCommand | undefined {
  const prefix = line.indexOf('##[');
  if (prefix < 0) return undefined;
  const close = line.indexOf(']', prefix);
  if (close < 0) return undefined;
  const info = line.slice(prefix + 3, close);
  const space = info.indexOf(' ');
  const name = (space < 0 ? info : info.slice(0, space)).toLowerCase();
  if (name === '' || !known(name)) return undefined;
  const properties = space > 0 ? readProperties(info.slice(space + 1), ';', LEGACY_ESCAPES) : {};
  return { name, properties, data: unescape(line.slice(close + 1), LEGACY_ESCAPES) };
}

/** `k=v<sep>k=v`: empty entries skipped, a pair without a key or a value ignored (the runner's Split options). */
function readProperties(
  text: string,
  separator: string,
  mappings: readonly (readonly [string, string])[],
): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const entry of text.split(separator)) {
    const equals = entry.indexOf('=');
    if (equals <= 0 || equals === entry.length - 1) continue;
    // A value may hold further '='; the runner splits once. Leading '='s of the value are dropped with the split.
    const value = entry.slice(equals + 1).replace(/^=+/, '');
    if (value === '') continue;
    properties[entry.slice(0, equals).toLowerCase()] = unescape(value, mappings);
  }
  return properties;
}

/** What one step's commands did. */
export interface StepCommandEffects {
  /** Kept per level up to MAX_ANNOTATIONS_PER_STEP; masked. */
  readonly annotations: Annotation[];
  /** `::set-output` values (deprecated; the GITHUB_OUTPUT file, read after the step, wins over these). */
  readonly outputs: Record<string, string>;
  /** `::save-state` values, for the action's post step as `STATE_<name>`. */
  readonly state: Record<string, string>;
  /** `::set-env` and `::add-path`, when `ACTIONS_ALLOW_UNSECURE_COMMANDS` is `true`. */
  readonly env: Record<string, string>;
  readonly path: string[];
  /** A command could not be processed (set-env refused, a required field missing…): the runner fails the step. */
  readonly failed: boolean;
}

export interface StepCommandScope {
  /** One complete line the step printed (without its newline): the lines to print in its place, masked later. */
  line(text: string): string[];
  effects(): StepCommandEffects;
}

export interface WorkflowCommandsOptions {
  readonly masker: Masker;
  /** GITHUB_WORKSPACE: annotation files under it are made relative, as the runner does. */
  readonly workspace: string;
}

/** The command processor of one order. */
export class WorkflowCommands {
  readonly #masker: Masker;
  readonly #workspace: string;
  /** `::stop-commands::` token while commands are paused (the runner keeps it across the job's steps). */
  #stopToken: string | undefined;

  constructor(opts: WorkflowCommandsOptions) {
    this.#masker = opts.masker;
    this.#workspace = opts.workspace;
  }
  /** Where a line too long to wait for may be cut without cutting a value to mask (Masker.safeCut). */
  safeCut(text: string): number {
    return this.#masker.safeCut(text);
  }

  /**
   * The scope of one step, whose process has `env`: `ACTIONS_STEP_DEBUG=true` shows `::debug::` and turns echo on
   * (the runner starts each step with echo = step debug); `ACTIONS_ALLOW_UNSECURE_COMMANDS=true` lets
   * `::set-env`/`::add-path` through; `ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS=true` accepts any stop token.
   */
  forStep(env: Readonly<Record<string, string>>): StepCommandScope {
    const flag = (name: string): boolean => env[name]?.trim().toLowerCase() === 'true';
    const debug = flag('ACTIONS_STEP_DEBUG');
    const allowUnsecure = flag('ACTIONS_ALLOW_UNSECURE_COMMANDS');
    const allowStopTokens = flag('ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS');
    let echo = debug;
    let failed = false;
    const annotations: Annotation[] = [];
    const counts = { error: 0, warning: 0, notice: 0 };
    const outputs: Record<string, string> = {};
    const state: Record<string, string> = {};
    const addedEnv: Record<string, string> = {};
    const addedPath: string[] = [];

    const annotate = (level: Annotation['level'], message: string, props: Readonly<Record<string, string>> = {}) => {
      const annotation = this.#annotation(level, message, props);
      if (counts[level] < MAX_ANNOTATIONS_PER_STEP) {
        counts[level]++;
        annotations.push(annotation);
      }
      return `##[${level}]${annotation.message}`;
    };
    /** The runner's catch around a command: two errors and a failed step. */
    const refuse = (input: string, message: string): string[] => {
      failed = true;
      return [annotate('error', `Unable to process command '${input}' successfully.`), annotate('error', message)];
    };

    const run = (input: string, command: WorkflowCommand): string[] => {
      const printed = echo && !OMIT_ECHO.has(command.name) ? [input] : [];
      const { name, properties, data } = command;
      switch (name) {
        case 'add-mask':
          if (data.trim() === '')
            return [annotate('warning', "Can't add secret mask for empty string in ##[add-mask] command.")];
          this.#masker.add(data);
          return echo ? ['::add-mask::***'] : [];
        case 'group':
          return [...printed, `##[group]${data}`];
        case 'endgroup':
          return [...printed, '##[endgroup]'];
        case 'debug':
          return debug ? [`##[debug]${data}`] : [];
        case 'error':
        case 'warning':
        case 'notice':
          return [annotate(name, data, properties)];
        case 'echo': {
          const value = data.trim().toLowerCase();
          if (value !== 'on' && value !== 'off') {
            return [
              ...printed,
              ...refuse(
                input,
                `Invalid echo command value. Possible values can be: 'on', 'off'. Current value is: '${data}'.`,
              ),
            ];
          }
          echo = value === 'on';
          return printed;
        }
        case 'set-output':
        case 'save-state': {
          const warning = annotate('warning', DEPRECATED(name));
          const key = properties.name;
          if (key === undefined)
            return [...printed, warning, ...refuse(input, `Required field 'name' is missing in ##[${name}] command.`)];
          (name === 'set-output' ? outputs : state)[key] = data;
          return [...printed, warning];
        }
        case 'set-env':
        case 'add-path': {
          if (!allowUnsecure) return [...printed, ...refuse(input, DISABLED(name))];
          if (name === 'add-path') {
            if (data === '') return [...printed, ...refuse(input, "Parameter 'path' cannot be null or empty.")];
            const at = addedPath.indexOf(data);
            if (at >= 0) addedPath.splice(at, 1);
            addedPath.push(data);
            return printed;
          }
          const key = properties.name;
          if (key === undefined)
            return [...printed, ...refuse(input, "Required field 'name' is missing in ##[set-env] command.")];
          // The runner's block list: a step may not set NODE_OPTIONS for the steps after it.
          if (key.toUpperCase() === 'NODE_OPTIONS')
            return [
              ...printed,
              annotate('error', `Can't update NODE_OPTIONS environment variable using ::set-env:: command.`),
            ];
          addedEnv[key] = data;
          return printed;
        }
        default:
          // add-matcher / remove-matcher: problem matchers are not implemented; the line is echoed and ignored.
          return printed;
      }
    };

    return {
      line: (input) => {
        const text = input.endsWith('\r') ? input.slice(0, -1) : input;
        if (this.#stopToken !== undefined) {
          const token = this.#stopToken;
          const command = parseWorkflowCommand(text, (name) => name === token.toLowerCase());
          if (command === undefined) return [input];
          this.#stopToken = undefined;
          return [text];
        }
        const command = parseWorkflowCommand(text);
        if (command === undefined) return [input];
        if (command.name === 'stop-commands') {
          const token = command.data;
          const invalid = token === '' || COMMANDS.has(token.toLowerCase()) || token.toLowerCase() === 'pause-logging';
          if (invalid && !allowStopTokens) return refuse(text, BAD_STOP_TOKEN);
          // The runner masks the token when it is longer than 6 characters, so it cannot be read back from the log.
          if (token.length > 6) this.#masker.add(token);
          this.#stopToken = token;
          return [text];
        }
        return run(text, command);
      },
      effects: () => ({ annotations, outputs, state, env: addedEnv, path: addedPath, failed }),
    };
  }

  /** An annotation with the runner's line/column fix-ups (IssueCommandExtension.ValidateLinesAndColumns), masked. */
  #annotation(level: Annotation['level'], message: string, props: Readonly<Record<string, string>>): Annotation {
    const mask = (text: string): string => this.#masker.mask(text);
    const position = fixPositions(props);
    let file = props.file;
    if (file !== undefined && path.isAbsolute(file)) {
      const relative = path.relative(this.#workspace, file);
      if (relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative)) {
        file = relative.split(path.sep).join('/');
      }
    }
    const masked = mask(message);
    return {
      level,
      message: masked.length > MAX_ANNOTATION_MESSAGE ? masked.slice(0, MAX_ANNOTATION_MESSAGE) : masked,
      ...(props.title === undefined ? {} : { title: mask(props.title) }),
      ...(file === undefined ? {} : { file: mask(file) }),
      ...position,
    };
  }
}

type Position = Pick<Annotation, 'line' | 'endLine' | 'col' | 'endColumn'>;

/**
 * The runner's rules, in its order: endLine without line becomes line; endColumn without col becomes col; columns
 * need a line; columns are dropped when the annotation spans lines; an end before its start drops the pair.
 */
export function fixPositions(props: Readonly<Record<string, string>>): Position {
  const int = (text: string | undefined): number | undefined => {
    if (text === undefined || !/^\s*[+-]?\d+\s*$/.test(text)) return undefined;
    const value = Number(text);
    return Number.isSafeInteger(value) && Math.abs(value) <= 2 ** 31 - 1 ? value : undefined;
  };
  let line = int(props.line);
  let endLine = int(props.endline);
  let col = int(props.col);
  let endColumn = int(props.endcolumn);
  if (endLine !== undefined && line === undefined) line = endLine;
  if (endColumn !== undefined && col === undefined) col = endColumn;
  const hasColumn = col !== undefined || endColumn !== undefined;
  if (line === undefined && hasColumn) {
    col = undefined;
    endColumn = undefined;
  }
  if (endLine !== undefined && line !== endLine && hasColumn) {
    col = undefined;
    endColumn = undefined;
  }
  if (line !== undefined && endLine !== undefined && endLine < line) {
    line = undefined;
    endLine = undefined;
  }
  if (col !== undefined && endColumn !== undefined && endColumn < col) {
    col = undefined;
    endColumn = undefined;
  }
  return {
    ...(line === undefined ? {} : { line }),
    ...(endLine === undefined ? {} : { endLine }),
    ...(col === undefined ? {} : { col }),
    ...(endColumn === undefined ? {} : { endColumn }),
  };
}

/**
 * Splits a process's output into lines as they complete, keeping a partial line until its newline comes (a value
 * to mask may be split across two reads) or the stream ends. A partial line over MAX_PARTIAL_LINE is let out as it
 * stands, cut where no value to mask crosses.
 */
export class LineBuffer {
  #partial = '';
  /** Where an over-long partial line may be cut (Masker.safeCut); default: all of it. */
  readonly #safeCut: (text: string) => number;

  constructor(safeCut: (text: string) => number = (text) => text.length) {
    this.#safeCut = safeCut;
  }

  /** The complete lines in `chunk` (with what was kept before), without their newlines. */
  push(chunk: string): string[] {
    // Only the new chunk is scanned, so a long line arriving in small reads costs its length, not its square.
    const lines = chunk.split('\n');
    const last = lines.pop() ?? '';
    if (lines.length === 0) {
      this.#partial += last;
    } else {
      lines[0] = this.#partial + (lines[0] ?? '');
      this.#partial = last;
    }
    if (this.#partial.length > MAX_PARTIAL_LINE) {
      // Cut where no value to mask crosses, so neither half lets a part of it out; the rest waits for more.
      const cut = this.#safeCut(this.#partial);
      if (cut > 0) {
        lines.push(this.#partial.slice(0, cut));
        this.#partial = this.#partial.slice(cut);
      }
    }
    return lines;
  }

  /** What is left when the stream ends (a last line without a newline), or undefined. */
  end(): string | undefined {
    const rest = this.#partial;
    this.#partial = '';
    return rest === '' ? undefined : rest;
  }
}
