import { describe, expect, it } from 'vitest';
import { createAllowList, DEFAULT_ALLOWED_COMMANDS, REFUSED_BY_DEFAULT } from './allow-list.js';
import { OutboundRefused } from './outbound-error.js';

function refusal(fn: () => unknown): OutboundRefused {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OutboundRefused);
    return err as OutboundRefused;
  }
  throw new Error('expected OutboundRefused, nothing was thrown');
}

describe('default allow-list', () => {
  const list = createAllowList();

  it('allows what plugins need, in any case', () => {
    for (const c of ['PRIVMSG', 'NOTICE', 'JOIN', 'PART', 'TOPIC', 'MODE', 'KICK', 'INVITE', 'WHO', 'WHOIS', 'WHOWAS', 'NAMES', 'LIST', 'AWAY', 'NICK', 'TAGMSG', 'ISON', 'USERHOST']) {
      expect(() => list.check(c)).not.toThrow();
      expect(list.has(c.toLowerCase())).toBe(true);
    }
    expect(list.commands).toEqual(DEFAULT_ALLOWED_COMMANDS);
  });

  it('refuses connection control and operator commands', () => {
    for (const c of ['QUIT', 'PASS', 'OPER', 'KILL', 'SQUIT', 'SERVICE', 'USER', 'CAP', 'AUTHENTICATE', 'CONNECT', 'DIE', 'RESTART', 'REHASH', 'WALLOPS', 'PING', 'PONG']) {
      expect(DEFAULT_ALLOWED_COMMANDS).not.toContain(c);
      expect(c in REFUSED_BY_DEFAULT).toBe(true);
      const err = refusal(() => list.check(c));
      expect(err.code).toBe('CommandNotAllowed');
    }
  });

  it('explains the refusal, naming the command and what is allowed', () => {
    const err = refusal(() => list.check('quit'));
    expect(err.message).toBe(
      `Command "quit" is not allowed for plugins (the mouth owns the connection); expected one of ${DEFAULT_ALLOWED_COMMANDS.join(', ')}.`,
    );
    const other = refusal(() => list.check('FOO'));
    expect(other.message).toMatch(/^Command "FOO" is not allowed for plugins; expected one of PRIVMSG, /);
  });

  it('does not let prototype names through', () => {
    expect(() => list.check('constructor')).toThrow(OutboundRefused);
    expect(refusal(() => list.check('toString')).message).not.toContain('function');
  });
});

describe('configured allow-list', () => {
  it('allows exactly what the operator lists, in any case', () => {
    const list = createAllowList(['privmsg', 'Quit']);
    expect(list.commands).toEqual(['PRIVMSG', 'QUIT']);
    expect(() => list.check('QUIT')).not.toThrow(); // the operator decides
    expect(() => list.check('Privmsg')).not.toThrow();
    expect(refusal(() => list.check('JOIN')).message).toContain('expected one of PRIVMSG, QUIT');
  });

  it('an empty list allows nothing and says so', () => {
    const list = createAllowList([]);
    const err = refusal(() => list.check('PRIVMSG'));
    expect(err.code).toBe('CommandNotAllowed');
    expect(err.message).toContain('expected nothing: the allow-list is empty');
  });

  it('rejects entries that are not commands at creation', () => {
    expect(() => createAllowList(['PRIVMSG', 'PRIV MSG'])).toThrow(TypeError);
    expect(() => createAllowList([''])).toThrow(/is not an IRC command/);
  });

  it('escapes odd command text in the message', () => {
    const err = refusal(() => createAllowList(['PRIVMSG']).check('X\r\nQUIT'));
    expect(err.message).toContain('"X\\x0d\\x0aQUIT"');
  });
});
