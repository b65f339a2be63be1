/**
 * Messages as plugin code sees them: a HiveMessage with its first line parsed (Incoming), reply
 * lines built from text, and the texts of an answer's lines. Pure: no bus, no node.
 */
import { line as toLine, type HiveMessage } from '../hive-message.js';
import { parseLine, privmsg, type IrcLine } from '../irc-line.js';

/** A message as plugin code sees it: the raw lines, the metadata, and the first line parsed. */
export interface Incoming extends HiveMessage {
  irc: IrcLine | undefined;
  network: string | undefined;
}

export function toIncoming(msg: HiveMessage): Incoming {
  const first = msg.lines[0];
  return Object.assign(msg, {
    irc: first ? parseLine(first) : undefined,
    network: msg.meta['hive.network'],
  });
}

const LF = 0x0a;

/** `PRIVMSG target :text` per line of `text` (split at newlines); a Buffer's bytes are kept as they are. */
export function privmsgLines(target: string, text: string | Buffer): Buffer[] {
  if (typeof text === 'string') return text.split('\n').map((t) => toLine(privmsg(target, t)));
  const head = Buffer.from(`PRIVMSG ${target} :`);
  const out: Buffer[] = [];
  for (let start = 0; ;) {
    const nl = text.indexOf(LF, start);
    out.push(Buffer.concat([head, text.subarray(start, nl === -1 ? text.length : nl)]));
    if (nl === -1) return out;
    start = nl + 1;
  }
}

/** The text of each PRIVMSG/NOTICE line. */
export function textsOf(lines: Buffer[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    const p = parseLine(l);
    if (p && (p.command === 'PRIVMSG' || p.command === 'NOTICE')) out.push(p.params[p.params.length - 1] ?? '');
  }
  return out;
}
