/**
 * `compose reverse rot13 hello`: the leading words that are commands of the subtree are the
 * stages, the first word that is not starts the text. Pure, no I/O.
 */

export type Split =
  | { ok: true; stages: string[]; text: string }
  | { ok: false; error: string };

/**
 * Splits the arguments of `compose`. `isCommand` says whether a (lower-case) word is a command
 * of the subtree. The text keeps its own spacing.
 */
export function splitStages(args: string, isCommand: (word: string) => boolean, usage: string): Split {
  const stages: string[] = [];
  const word = /\S+/g;
  let textStart = args.length;
  let m: RegExpExecArray | null;
  while ((m = word.exec(args)) !== null) {
    const w = m[0].toLowerCase();
    if (!isCommand(w)) { textStart = m.index; break; }
    stages.push(w);
  }
  const text = args.slice(textStart).trim();
  if (stages.length === 0) {
    if (!text) return { ok: false, error: `usage: ${usage}` };
    return { ok: false, error: `no plugin here answers '${/^\S+/.exec(text)![0]}'` };
  }
  if (!text) return { ok: false, error: `nothing to compose: put a text after the commands (${usage})` };
  return { ok: true, stages, text };
}

/** 3 → "3s", 0.5 → "0.5s". */
export function seconds(s: number): string {
  return `${Number(s.toFixed(3))}s`;
}
