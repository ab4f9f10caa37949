/**
 * Parses a `GITHUB_OUTPUT` / `GITHUB_ENV` file, following the actions/runner `SetEnvFileCommand` reader
 * (src/Runner.Worker/FileCommandManager.cs) and GitHub's documented format
 * (docs.github.com › workflow commands › "Setting an environment variable" / "Multiline strings"):
 *
 * - `NAME=value`: everything after the first `=` is the value;
 * - `NAME<<DELIM` then value lines then a line equal to `DELIM`: the value is the lines between, joined by `\n`;
 * - whichever of `=` and `<<` comes first on the line decides the form; empty lines are skipped;
 * - an empty name, an empty delimiter, a missing closing delimiter or a line with neither form is an error, which
 *   the runner reports as a failed step ("Unable to process file command").
 *
 * Pure: text in, pairs out (in file order; a later pair for the same name wins when the caller applies them).
 */
export type ParseEnvFileResult =
  | { readonly ok: true; readonly pairs: readonly (readonly [name: string, value: string])[] }
  | { readonly ok: false; readonly error: string };

export function parseEnvFile(text: string): ParseEnvFileResult {
  // The runner splits on LF only (CRLF is honoured on Windows runners, where spotcheck does not run).
  const lines = text.split('\n');
  // A trailing newline leaves one empty last element, which is not a line.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const pairs: (readonly [string, string])[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') continue;
    const equalsIndex = line.indexOf('=');
    const heredocIndex = line.indexOf('<<');
    if (equalsIndex >= 0 && (heredocIndex < 0 || equalsIndex < heredocIndex)) {
      const name = line.slice(0, equalsIndex);
      if (name === '') return { ok: false, error: `Invalid format '${line}': the name must not be empty` };
      pairs.push([name, line.slice(equalsIndex + 1)]);
      continue;
    }
    if (heredocIndex >= 0) {
      const name = line.slice(0, heredocIndex);
      const delimiter = line.slice(heredocIndex + 2);
      if (name === '' || delimiter === '') {
        return { ok: false, error: `Invalid format '${line}': the name and the delimiter must not be empty` };
      }
      const value: string[] = [];
      let closed = false;
      for (i++; i < lines.length; i++) {
        const valueLine = lines[i] ?? '';
        if (valueLine === delimiter) {
          closed = true;
          break;
        }
        value.push(valueLine);
      }
      if (!closed) return { ok: false, error: `Invalid value: matching delimiter not found '${delimiter}'` };
      pairs.push([name, value.join('\n')]);
      continue;
    }
    return { ok: false, error: `Invalid format '${line}'` };
  }
  return { ok: true, pairs };
}
