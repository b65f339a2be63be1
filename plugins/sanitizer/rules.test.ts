import { describe, expect, it } from 'vitest';
import { parseLine, type IrcLine } from '../../protocol/sdk/index.js';
import {
  channelsToCount, checkHighlights, checkStatic, hasFormatting, lineTargets, namedMembers, stripFormatting, stripLines, type Policy, type Trigger,
} from './rules.js';

const p = (s: string) => parseLine(s)!;
const policy = (over: Partial<Policy> = {}): Policy => ({
  commands: new Set(['PRIVMSG', 'NOTICE']), extraTargets: new Set(['#announce']), maxHighlights: 5, formatting: 'allow', ...over,
});
const inOne: Trigger = { network: 'net', channel: '#One', speaker: 'Alice' };
const privately: Trigger = { network: 'net', speaker: 'alice' };
const check = (lines: string[], trigger: Trigger | undefined, pol = policy(), replyTo: string | undefined = trigger ? 'id1' : undefined) =>
  checkStatic(lines.map((l) => parseLine(l)), { network: 'net', replyTo, trigger }, pol);

describe('targets', () => {
  it('are the first parameter of message commands and the channels other commands name', () => {
    expect(lineTargets(p('PRIVMSG #a,bob :hi'))).toEqual(['#a', 'bob']);
    expect(lineTargets(p('NOTICE bob :hi'))).toEqual(['bob']);
    expect(lineTargets(p('KICK #a carol :bye'))).toEqual(['#a']);
    expect(lineTargets(p('MODE #a +o carol'))).toEqual(['#a']);
    expect(lineTargets(p('JOIN #a,#b'))).toEqual(['#a', '#b']);
    expect(lineTargets(p('TOPIC #a :about #b'))).toEqual(['#a']);
    expect(lineTargets(p('INVITE carol #b'))).toEqual(['#b']);
    expect(lineTargets(p('MODE hivebot +i'))).toEqual([]);
  });

  it('a reply may go where its trigger was said, to its speaker, and to extra targets', () => {
    expect(check(['PRIVMSG #one :hi', 'NOTICE alice :psst', 'PRIVMSG #ANNOUNCE :news'], inOne)).toBeUndefined();
    expect(check(['PRIVMSG #two :hi'], inOne)).toMatchObject({ rule: 'target', reason: expect.stringContaining('#two is not an allowed target') });
    expect(check(['PRIVMSG carol :hi'], inOne)).toMatchObject({ rule: 'target' });
    expect(check(['PRIVMSG #one,#two :hi'], inOne)).toMatchObject({ rule: 'target' });
    // One bad line refuses the message, wherever it is.
    expect(check(['PRIVMSG #one :fine', 'PRIVMSG #two :not fine'], inOne)).toMatchObject({ rule: 'target' });
    // A private trigger allows only its speaker.
    expect(check(['PRIVMSG alice :hi'], privately)).toBeUndefined();
    expect(check(['PRIVMSG #one :hi'], privately)).toMatchObject({ rule: 'target' });
    // The trigger's network only.
    expect(checkStatic([p('PRIVMSG #one :hi')], { network: 'other', replyTo: 'id1', trigger: inOne }, policy())).toMatchObject({ rule: 'target' });
  });

  it('a message answering nothing (or something unknown) may go to extra targets only', () => {
    expect(check(['PRIVMSG #announce :news'], undefined)).toBeUndefined();
    expect(check(['PRIVMSG #one :news'], undefined)).toMatchObject({ rule: 'target', reason: expect.stringContaining('answers nothing') });
    expect(check(['PRIVMSG #one :news'], undefined, policy(), 'forgotten')).toMatchObject({ rule: 'target', reason: expect.stringContaining('not seen here') });
  });
});

describe('commands and formatting', () => {
  it('refuses commands not listed, and unparsable lines', () => {
    expect(check(['MODE #one +o carol'], inOne)).toMatchObject({ rule: 'command', reason: 'MODE is not allowed here (allowed: PRIVMSG, NOTICE)' });
    expect(check(['KICK #one carol :bye'], inOne)).toMatchObject({ rule: 'command' });
    expect(check(['PRIVMSG #one :ok', 'MODE #one +m'], inOne)).toMatchObject({ rule: 'command' });
    expect(check(['MODE #one +m'], inOne, policy({ commands: new Set(['PRIVMSG', 'MODE']) }))).toBeUndefined();
    // An allowed command is still bound to the allowed channels.
    expect(check(['MODE #two +m'], inOne, policy({ commands: new Set(['PRIVMSG', 'MODE']) }))).toMatchObject({ rule: 'target' });
    expect(checkStatic([undefined], { network: 'net', replyTo: 'x', trigger: inOne }, policy())).toMatchObject({ rule: 'invalid' });
  });

  it('finds, strips and (if so configured) refuses formatting codes', () => {
    expect(hasFormatting('plain \x01ACTION waves\x01')).toBe(false);
    expect(hasFormatting('\x02bold\x02')).toBe(true);
    expect(stripFormatting('\x02b\x02 \x0304,12red\x03 \x0312blue \x04FF00AAhex\x0f \x1Di\x1D\x1Fu\x1F\x1Es\x1E\x11m\x11\x16r')).toBe('b red blue hex iusmr');
    expect(stripFormatting('\x0399 bottles')).toBe(' bottles');
    expect(check(['PRIVMSG #one :\x02loud\x02'], inOne)).toBeUndefined();
    expect(check(['PRIVMSG #one :\x02loud\x02'], inOne, policy({ formatting: 'refuse' }))).toMatchObject({ rule: 'formatting' });
  });

  it('strips text only, byte for byte, keeping tags, prefix and other encodings', () => {
    const raw = [
      Buffer.from('@+x=1 PRIVMSG #one :\x02bold\x02 and \x0304red\x03 caf\xc3\xa9', 'latin1'),
      Buffer.from('PRIVMSG #one :caf\xe9 \x1Flatin1\x1F', 'latin1'),
      Buffer.from('PRIVMSG #one :nothing to do'),
      Buffer.from('NOTICE alice \x02word', 'latin1'),
    ];
    const out = stripLines(raw, raw.map((l) => parseLine(l)!))!;
    expect(out.map((b) => b.toString('latin1'))).toEqual([
      '@+x=1 PRIVMSG #one :bold and red caf\xc3\xa9',
      'PRIVMSG #one :caf\xe9 latin1',
      'PRIVMSG #one :nothing to do',
      'NOTICE alice word',
    ]);
    expect(out[2]).toBe(raw[2]);
    expect(stripLines([raw[2]!], [parseLine(raw[2]!)!])).toBeUndefined();
  });
});

describe('highlights', () => {
  const members = ['alice', 'Bob', 'carol', 'dave', 'erin', 'frank', 'hivebot', 'x[m]'];
  const lines = (...texts: string[]): IrcLine[] => texts.map((t) => p(`PRIVMSG #one :${t}`));
  const count = (ls: IrcLine[], max = 5) => checkHighlights(ls, (c) => (c.toLowerCase() === '#one' ? members : []), 'HiveBot', max);

  it('counts distinct members named in a line, as clients would highlight them', () => {
    expect(namedMembers('alice, bob: and ALICE again; not alicex', members)).toEqual(['alice', 'Bob']);
    expect(namedMembers('x{m} is x[m] in rfc1459', members)).toEqual(['x[m]']);
    // Formatting inside a nick does not hide it.
    expect(namedMembers('a\x02\x02lice c\x0304arol', members)).toEqual(['alice', 'carol']);
    expect(namedMembers('hivebot hivebot', members, 'hivebot')).toEqual([]);
  });

  it('refuses a line naming more than max members of its channel', () => {
    expect(count(lines('alice bob carol dave erin'))).toBeUndefined();
    expect(count(lines('alice bob carol dave erin frank'))).toMatchObject({ rule: 'highlight', reason: 'a line names 6 members of #one (at most 5 per line)' });
    // The bot itself does not count; nor do names spread over lines (the rule is per line).
    expect(count(lines('alice bob carol dave erin hivebot'))).toBeUndefined();
    expect(count(lines('alice bob carol', 'dave erin frank'))).toBeUndefined();
    expect(count(lines('alice bob'), 1)).toMatchObject({ rule: 'highlight' });
    // Private lines are not checked; unknown channels have no members.
    expect(checkHighlights([p('PRIVMSG alice :alice bob carol dave erin frank')], () => members, undefined, 5)).toBeUndefined();
    expect(channelsToCount([p('PRIVMSG #one,bob :x'), p('NOTICE #One :y'), p('MODE #two +m')])).toEqual(['#one']);
  });
});
