/**
 * Nested commands: `echo [upper [reverse abc]]`. Parses a command text into groups (a bracketed
 * command inside another), and evaluates them inner-most first with a given `ask`. Pure, no I/O.
 *
 * Escapes: `\[`, `\]` and `\\` stand for the character itself; any other backslash is literal
 * (so `C:\dir` needs no doubling).
 */

/** A command text: literal pieces and the bracketed commands inside it, in order. */
export interface Group {
  parts: (string | Group)[];
}

export type Parsed = { ok: true; top: Group } | { ok: false; error: string };

/** Whether `text` needs the nested-command treatment at all: a bracket, escaped or not. */
export function hasBrackets(text: string): boolean {
  return text.includes('[') || text.includes(']');
}

export function parseBrackets(text: string): Parsed {
  const top: Group = { parts: [] };
  const stack: Group[] = [top];
  let buf = '';
  const flush = () => {
    if (buf) stack[stack.length - 1]!.parts.push(buf);
    buf = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && (text[i + 1] === '[' || text[i + 1] === ']' || text[i + 1] === '\\')) {
      buf += text[++i];
    } else if (c === '[') {
      flush();
      const g: Group = { parts: [] };
      stack[stack.length - 1]!.parts.push(g);
      stack.push(g);
    } else if (c === ']') {
      if (stack.length === 1) return { ok: false, error: `unbalanced brackets: a ']' without its '[' (character ${i + 1}); write \\] for a literal one` };
      flush();
      const g = stack.pop()!;
      if (!literalText(g).trim() && !g.parts.some((p) => typeof p !== 'string')) return { ok: false, error: 'empty brackets []: put a command inside, or write \\[\\] for literal ones' };
    } else {
      buf += c;
    }
  }
  flush();
  if (stack.length > 1) return { ok: false, error: `unbalanced brackets: ${stack.length - 1} '[' never closed; write \\[ for a literal one` };
  return { ok: true, top };
}

function literalText(g: Group): string {
  return g.parts.filter((p): p is string => typeof p === 'string').join('');
}

/** How many commands the groups inside `g` will ask (not counting `g` itself). */
export function countGroups(g: Group): number {
  return g.parts.reduce<number>((n, p) => (typeof p === 'string' ? n : n + 1 + countGroups(p)), 0);
}

/** The command word a group starts with, when it is written out (not itself made by a group). */
export function leadingWord(g: Group): string | undefined {
  const first = g.parts[0];
  if (typeof first !== 'string') return undefined;
  const m = /^\s*(\S+)/.exec(first);
  // "[reverse x]" is fine, "[re[verse] x]" is not a word we can know beforehand.
  if (!m) return undefined;
  const rest = first.slice(m.index + m[0].length);
  if (rest === '' && g.parts.length > 1) return undefined;
  return m[1]!.toLowerCase();
}

/** The command words of every group whose word is written out, outer-most first. */
export function innerWords(g: Group): string[] {
  const out: string[] = [];
  for (const p of g.parts) {
    if (typeof p === 'string') continue;
    const w = leadingWord(p);
    if (w !== undefined) out.push(w);
    out.push(...innerWords(p));
  }
  return out;
}

/** The command a top-level text starts with: its first word, or if it starts with a group, that group's. */
export function firstCommandWord(g: Group): string | undefined {
  const first = g.parts[0];
  if (first === undefined) return undefined;
  if (typeof first !== 'string') return firstCommandWord(first);
  if (first.trim()) return leadingWord(g);
  const next = g.parts[1];
  return next !== undefined && typeof next !== 'string' ? firstCommandWord(next) : undefined;
}

/**
 * The text of `g` with every group replaced by the answer `ask` gives for it, inner-most first,
 * left to right. `g` itself is not asked: the caller decides what to do with the result.
 */
export async function substitute(g: Group, ask: (command: string) => Promise<string>): Promise<string> {
  let out = '';
  for (const p of g.parts) {
    if (typeof p === 'string') out += p;
    else out += await ask((await substitute(p, ask)).trim());
  }
  return out;
}
