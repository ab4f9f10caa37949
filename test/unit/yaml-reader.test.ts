import { describe, expect, it } from 'vitest';
import {
  MAX_WORKFLOW_FILE_BYTES,
  MAX_YAML_ALIAS_COUNT,
  MAX_YAML_ALIAS_NODES,
  MAX_YAML_DEPTH,
} from '../../src/core/limits.ts';
import { DiagnosticSink } from '../../src/core/workflow/diagnostics.ts';
import { readYaml } from '../../src/core/workflow/yaml-reader.ts';

function read(text: string) {
  const sink = new DiagnosticSink('w.yml');
  const tree = readYaml(sink, text);
  return { tree, messages: sink.done().map((d) => `${d.line}:${d.col} ${d.message}`) };
}

describe('readYaml: text → a positioned tree', () => {
  it('keeps each value with its line and column, and an empty value as null where it would stand', () => {
    const { tree, messages } = read('a: 1\nb:\n  - x\n  - true\nc:\n');
    expect(messages).toEqual([]);
    expect(tree).toEqual({
      kind: 'map',
      pos: { line: 1, col: 1 },
      entries: [
        { key: 'a', keyPos: { line: 1, col: 1 }, value: { kind: 'scalar', pos: { line: 1, col: 4 }, value: 1 } },
        {
          key: 'b',
          keyPos: { line: 2, col: 1 },
          value: {
            kind: 'seq',
            pos: { line: 3, col: 3 },
            items: [
              { kind: 'scalar', pos: { line: 3, col: 5 }, value: 'x' },
              { kind: 'scalar', pos: { line: 4, col: 5 }, value: true },
            ],
          },
        },
        { key: 'c', keyPos: { line: 5, col: 1 }, value: { kind: 'scalar', pos: { line: 5, col: 3 }, value: null } },
      ],
    });
  });

  it('expands an alias into the anchored value, at the anchored text', () => {
    const { tree } = read('x: &a [1]\ny: *a\n');
    expect(tree?.kind === 'map' && tree.entries[1]?.value).toEqual({
      kind: 'seq',
      pos: { line: 1, col: 7 },
      items: [{ kind: 'scalar', pos: { line: 1, col: 8 }, value: 1 }],
    });
  });
});

describe('readYaml: bounds, accepted at the limit and refused past it', () => {
  const flow = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}\n`;
  const block = (levels: number): string => `${'- '.repeat(levels)}x\n`;
  // n aliases spread over enough anchors that each is repeated well under MAX_YAML_ALIAS_COUNT times.
  const aliases = (n: number): string => {
    const anchors = Math.ceil(n / (MAX_YAML_ALIAS_COUNT / 2));
    const defined = Array.from({ length: anchors }, (_, i) => `x${i}: &v${i} ${i}\n`).join('');
    return `${defined}y: [${Array.from({ length: n }, (_, i) => `*v${i % anchors}`).join(', ')}]\n`;
  };
  // A comment pads the file to an exact size in bytes (all ASCII here).
  const sized = (bytes: number): string => `a: 1\n#${'x'.repeat(bytes - 'a: 1\n#\n'.length)}\n`;

  it.each<[string, string, string | undefined]>([
    ['flow nesting at the limit', flow(MAX_YAML_DEPTH), undefined],
    ['flow nesting past the limit', flow(MAX_YAML_DEPTH + 1), `more than ${MAX_YAML_DEPTH} levels`],
    ['block nesting at the limit', block(MAX_YAML_DEPTH), undefined],
    ['block nesting past the limit', block(MAX_YAML_DEPTH + 1), `more than ${MAX_YAML_DEPTH} levels`],
    ['aliases at the limit', aliases(MAX_YAML_ALIAS_NODES), undefined],
    ['aliases past the limit', aliases(MAX_YAML_ALIAS_NODES + 1), `more than ${MAX_YAML_ALIAS_NODES} \`*alias\``],
    ['a file at the size limit', sized(MAX_WORKFLOW_FILE_BYTES), undefined],
    ['a file past the size limit', sized(MAX_WORKFLOW_FILE_BYTES + 1), 'file is too large'],
    [
      'one anchor repeated past the alias count',
      aliases(MAX_YAML_ALIAS_COUNT + 1).replace(/\*v\d+/g, '*v0'),
      'alias bombs',
    ],
  ])('%s', (_label, text, problem) => {
    const { tree, messages } = read(text);
    if (problem === undefined) {
      expect(messages).toEqual([]);
      expect(tree).toBeDefined();
    } else {
      expect(messages).toHaveLength(1);
      expect(messages[0]).toContain(problem);
      expect(tree).toBeUndefined();
    }
  });
});
