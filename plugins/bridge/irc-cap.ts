/**
 * How much of a relay goes to an IRC channel: at most max_lines lines as IRC readers will see them.
 * The mouth splits a line longer than fits into several, so a long XMPP line counts as the lines it
 * becomes, not as one. Pure.
 */
/** About how many bytes of text one IRC line carries once the mouth adds the command and the bot's prefix. */
const IRC_LINE_BYTES = 400;

/** A cut at most `n` bytes into `b` that does not split a UTF-8 character. */
const utf8Cut = (b: Buffer, n: number): Buffer => {
  let end = Math.min(n, b.length);
  while (end > 0 && end < b.length && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
};

/**
 * `bodies` cut to at most `maxLines` IRC lines (a body of n bytes costs ceil(n / IRC_LINE_BYTES)),
 * the last saying what was left out: `(… N more lines)` when whole lines were, `(… N more bytes)`
 * when a line was cut too.
 */
export const capForIrc = (bodies: Buffer[], maxLines: number): { lines: Buffer[]; cut: number } => {
  const cost = (b: Buffer) => Math.max(1, Math.ceil(b.length / IRC_LINE_BYTES));
  if (bodies.reduce((n, b) => n + cost(b), 0) <= maxLines) return { lines: bodies, cut: 0 };
  const budget = maxLines - 1; // the last says what was cut
  const kept: Buffer[] = [];
  let used = 0;
  let partial = false;
  for (const b of bodies) {
    if (used + cost(b) <= budget) { kept.push(b); used += cost(b); continue; }
    const room = (budget - used) * IRC_LINE_BYTES;
    if (room > 0) { kept.push(utf8Cut(b, room)); partial = true; }
    break;
  }
  const cutLines = bodies.length - kept.length + (partial ? 1 : 0);
  const cutBytes = bodies.reduce((n, b) => n + b.length, 0) - kept.reduce((n, b) => n + b.length, 0);
  return { lines: [...kept, Buffer.from(partial ? `(… ${cutBytes} more bytes)` : `(… ${cutLines} more lines)`, 'utf8')], cut: cutLines };
};
