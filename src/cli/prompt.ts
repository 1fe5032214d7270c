import { readFileSync } from 'node:fs';
import { UsageError } from './shared.js';

let pipedLines: string[] | undefined;

/** Lines of a non-interactive stdin, read once (several secrets may come from one pipe). */
function pipedLine(what: string): string {
  if (pipedLines === undefined) {
    let text = '';
    try {
      text = readFileSync(0, 'utf8');
    } catch {
      text = '';
    }
    pipedLines = text.split(/\r?\n/);
  }
  const line = pipedLines.shift();
  if (line === undefined || line === '') throw new UsageError(`no ${what} on standard input`);
  return line;
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/**
 * A secret from a file (first line), or typed at the terminal without echo, or the next line
 * of piped standard input. Never from a command-line argument, where `ps` would show it.
 */
export async function readSecret(what: string, file?: string): Promise<string> {
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
    } catch (e) {
      throw new UsageError(`cannot read ${what} from ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (process.stdin.isTTY) return promptHidden(`${what[0]!.toUpperCase()}${what.slice(1)}: `);
  return pipedLine(what);
}
