/**
 * The order log as the agent writes it: step output under a byte cap, step headers and ends always, everything
 * masked first (so the cap never cuts a value in two and lets half of it out). Callers hand it whole lines.
 */

export interface CappedLog {
  /** Step output: counted against the cap; past it, dropped after one notice. */
  output(chunk: string): void;
  /** Headers, ends and errors: always written (a handful of lines per step), each on a line of its own. */
  meta(line: string): void;
}

export function createCappedLog(
  onLog: (chunk: string) => void,
  maxBytes: number,
  mask: (text: string) => string = (text) => text,
): CappedLog {
  let written = 0;
  let truncated = false;
  let atLineStart = true;
  const emit = (chunk: string): void => {
    if (chunk === '') return;
    atLineStart = chunk.endsWith('\n');
    onLog(chunk);
  };
  return {
    output(text) {
      if (truncated) return;
      const chunk = mask(text);
      const bytes = Buffer.byteLength(chunk);
      if (written + bytes <= maxBytes) {
        written += bytes;
        emit(chunk);
        return;
      }
      const room = maxBytes - written;
      written = maxBytes;
      truncated = true;
      emit(
        Buffer.from(chunk)
          .subarray(0, room)
          .toString('utf8')
          .replace(/\uFFFD$/, ''),
      );
      emit(`${atLineStart ? '' : '\n'}##[warning] log truncated at ${maxBytes} bytes; further step output dropped\n`);
    },
    meta(line) {
      emit(`${atLineStart ? '' : '\n'}${mask(line)}\n`);
    },
  };
}
