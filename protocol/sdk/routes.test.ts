import { describe, expect, it } from 'vitest';
import { encode } from '../codec.js';
import { routeMatches, routeOf, routeRule, subscriptionRules, validPattern } from './routes.js';

const route = (line: string | undefined, meta: Record<string, unknown> = {}, prefix = '!') =>
  routeOf(encode({ lines: line === undefined ? [] : [Buffer.from(line)], meta: { 'hive.nick': 'hive', ...meta } as never }), prefix);

describe('the route key of a message', () => {
  it('names a command to the bot, however it was addressed', () => {
    expect(route(':bob!b@h PRIVMSG #c :!Ping now')).toBe('PRIVMSG.command.ping');
    expect(route('@time=x :bob!b@h PRIVMSG #c :HIVE: echo hi')).toBe('PRIVMSG.command.echo');
    expect(route(':bob!b@h PRIVMSG #c :hive, seen alice')).toBe('PRIVMSG.command.seen');
    expect(route(':bob!b@h PRIVMSG hive :notes')).toBe('PRIVMSG.command.notes');
    expect(route(':bob!b@h PRIVMSG #c :?help', {}, '?')).toBe('PRIVMSG.command.help');
  });
  it('names other lines by their command, and events by what the mouth saw', () => {
    expect(route(':bob!b@h PRIVMSG #c :just talk')).toBe('PRIVMSG');
    expect(route(':bob!b@h PRIVMSG #c :!ping', {}, '')).toBe('PRIVMSG');
    expect(route(':bob!b@h join #c')).toBe('JOIN');
    expect(route(':srv 353 hive = #c :a b')).toBe('353');
    expect(route(':bob!b@h NOTICE #c :!ping')).toBe('NOTICE');
    expect(route(undefined, { 'hive.event': 'registered' })).toBe('event.registered');
    expect(route(undefined)).toBe('event');
  });
  it('hostile lines get a key all the same, never a command they are not', () => {
    expect(route('')).toBe('line');
    expect(route(':only-a-prefix')).toBe('line');
    expect(route(':bob!b@h PRIVMSG #c')).toBe('PRIVMSG');
    expect(route(":bob!b@h PRIVMSG #c :!it's")).toBe("PRIVMSG.command.it's");
    // No NUL in a D-Bus string: a line a filter made with one gets U+FFFD in its route.
    expect(route(':bob!b@h PRIVMSG #c :!p\0ng')).toBe('PRIVMSG.command.p\ufffdng');
    expect(route('JO\0IN #c')).toBe('JO\ufffdIN');
  });
});

describe('patterns and match rules', () => {
  it('K is the key exactly; K.* is K and every key under it', () => {
    expect(routeMatches('PRIVMSG', 'PRIVMSG')).toBe(true);
    expect(routeMatches('PRIVMSG.command.ping', 'PRIVMSG')).toBe(false);
    expect(routeMatches('PRIVMSG.command.ping', 'PRIVMSG.*')).toBe(true);
    expect(routeMatches('PRIVMSG', 'PRIVMSG.*')).toBe(true);
    expect(routeMatches('PRIVMSGX', 'PRIVMSG.*')).toBe(false);
    expect(routeMatches('event.registered', 'event.*')).toBe(true);
  });
  it('refuses a namespace the bus daemon would refuse, and empty or oversized patterns', () => {
    expect(validPattern('PRIVMSG.*')).toBe(true);
    expect(validPattern('PRIVMSG.command.c++')).toBe(true);
    expect(validPattern('001.*')).toBe(false);
    expect(validPattern('PRIVMSG.command.c++.*')).toBe(false);
    expect(validPattern('')).toBe(false);
    expect(validPattern('x'.repeat(256))).toBe(false);
  });
  it('writes arg0 for a key and arg0namespace for a namespace, quoting apostrophes', () => {
    expect(routeRule(':1.7', 'PRIVMSG.command.ping')).toBe("type='signal',sender=':1.7',path='/org/hive/Node',interface='org.hive.Node1',member='Message',arg0='PRIVMSG.command.ping'");
    expect(routeRule(':1.7', 'PRIVMSG.*')).toMatch(/,arg0namespace='PRIVMSG'$/);
    expect(routeRule(':1.7', "PRIVMSG.command.it's")).toMatch(/,arg0='PRIVMSG.command.it'\\''s'$/);
    expect(subscriptionRules(':1.7', 'all')).toEqual(["type='signal',sender=':1.7',path='/org/hive/Node',interface='org.hive.Node1'"]);
    expect(subscriptionRules(':1.7', [])).toEqual(["type='signal',sender=':1.7',path='/org/hive/Node',interface='org.hive.Node1',member='Reparent'"]);
  });
});
