// What the mouth refuses of a server's lines before irc-framework keeps anything of them.
import { describe, expect, it } from 'vitest';
import { parseLine } from '../protocol/irc-line.js';
import { CAP_REQUESTED_MAX, CAP_TOKENS_MAX, capProblem } from './server-line-shape.js';

const cap = (line: string, requested: string[] = []) => capProblem(parseLine(line)!, { requested });
const names = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`).join(' ');

describe('capProblem', () => {
  it(`refuses a CAP line naming more than ${CAP_TOKENS_MAX} capabilities`, () => {
    expect(cap(`:s CAP hivebot NEW :${names(CAP_TOKENS_MAX)}`)).toBeUndefined();
    expect(cap(`:s CAP hivebot NEW :${names(CAP_TOKENS_MAX + 1)}`)).toMatch(/names 65 capabilities/);
    expect(cap(`:s CAP * LS * :${names(500)}`)).toMatch(/at most 64/);
    expect(cap(`:s CAP * LS :sasl=PLAIN,EXTERNAL cap-notify`)).toBeUndefined();
  });

  it('refuses an ACK of a capability the bot is not waiting for, and accepts one it requested', () => {
    expect(cap(':s CAP hivebot ACK :sasl cap-notify', ['cap-notify', 'sasl', 'batch'])).toBeUndefined();
    expect(cap(':s CAP hivebot ACK :~sasl', ['sasl'])).toBeUndefined();
    expect(cap(':s CAP hivebot ACK :sasl', [])).toMatch(/"sasl", a capability the bot did not request/);
    expect(cap(':s CAP hivebot ACK :sasl x0', ['sasl'])).toMatch(/"x0"/);
    // Disabling is never requested; irc-framework would read `-sasl` as sasl enabled.
    expect(cap(':s CAP hivebot ACK :-sasl', ['sasl'])).toMatch(/"-sasl"/);
  });

  it(`refuses CAP LS and NEW while ${CAP_REQUESTED_MAX} of the bot's requests are unanswered`, () => {
    const pending = Array.from({ length: CAP_REQUESTED_MAX }, () => 'sasl');
    expect(cap(':s CAP hivebot NEW :sasl', pending.slice(1))).toBeUndefined();
    expect(cap(':s CAP hivebot NEW :sasl', pending)).toMatch(/64 capability requests are unanswered/);
    expect(cap(':s CAP * LS :sasl', pending)).toMatch(/unanswered/);
    // An answer is still taken: it is what shortens the list.
    expect(cap(':s CAP hivebot ACK :sasl', pending)).toBeUndefined();
    expect(cap(':s CAP hivebot NAK :sasl', pending)).toBeUndefined();
  });
});
