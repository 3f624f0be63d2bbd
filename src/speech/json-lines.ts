/**
 * Splits a child process's stdout into JSON objects, one per line, with a bound on line length so
 * a runaway engine cannot grow memory. Lines that are not JSON objects are reported, not thrown.
 */
export interface JsonLineSplitter {
  push(chunk: Buffer): void;
}

export function jsonLines(
  onObject: (value: Record<string, unknown>) => void,
  onBadLine: (reason: string, excerpt: string) => void,
  maxLineBytes = 65_536,
): JsonLineSplitter {
  let pending = '';
  return {
    push(chunk: Buffer) {
      pending += chunk.toString('utf8');
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line) {
          let value: unknown;
          try {
            value = JSON.parse(line);
          } catch {
            value = undefined;
          }
          if (value && typeof value === 'object' && !Array.isArray(value)) onObject(value as Record<string, unknown>);
          else onBadLine('not a JSON object', line.slice(0, 80));
        }
        nl = pending.indexOf('\n');
      }
      if (pending.length > maxLineBytes) {
        onBadLine('line too long', pending.slice(0, 80));
        pending = '';
      }
    },
  };
}
