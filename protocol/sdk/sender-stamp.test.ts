import { describe, expect, it } from 'vitest';
import type { WireMessage } from '../codec.js';
import { HiveError } from '../errors.js';
import { Variant } from './bus.js';
import { MAX_PATH, appendPath, stampSender } from './sender-stamp.js';

const wire = (meta: Record<string, InstanceType<typeof Variant>> = {}): WireMessage => [[Buffer.from('PRIVMSG #a :hi')], meta];
const path = (w: WireMessage) => w[1]['hive.path']?.value;
const origin = (w: WireMessage) => w[1]['hive.origin']?.value;

describe('stampSender', () => {
  it('puts the child on the path and makes it the origin of a bare message', () => {
    const w = wire();
    expect(stampSender(w, 'kid')).toEqual({ path: ['kid'] });
    expect(path(w)).toEqual(['kid']);
    expect(origin(w)).toBe('kid');
  });

  it('does not append the child twice when the path already ends with it', () => {
    const w = wire({ 'hive.path': new Variant('as', ['leaf', 'kid']), 'hive.origin': new Variant('s', 'leaf') });
    expect(stampSender(w, 'kid')).toEqual({ path: ['leaf', 'kid'] });
    expect(path(w)).toEqual(['leaf', 'kid']);
    expect(origin(w)).toBe('leaf');
  });

  it('keeps the claimed subtree before the child and an origin on the path', () => {
    const w = wire({ 'hive.path': new Variant('as', ['leaf']), 'hive.origin': new Variant('s', 'leaf') });
    stampSender(w, 'kid');
    expect(path(w)).toEqual(['leaf', 'kid']);
    expect(origin(w)).toBe('leaf');
  });

  it('replaces an origin that is not on the path by the first node, and says what was claimed', () => {
    const w = wire({ 'hive.origin': new Variant('s', 'mouth') });
    expect(stampSender(w, 'kid')).toEqual({ forgedOrigin: 'mouth', path: ['kid'] });
    expect(origin(w)).toBe('kid');
  });

  it('refuses a path longer than MAX_PATH with InvalidMessage', () => {
    const long = Array.from({ length: MAX_PATH }, (_, i) => `n${i}`);
    const w = wire({ 'hive.path': new Variant('as', long) });
    expect(() => stampSender(w, 'kid')).toThrow(HiveError);
    try { stampSender(w, 'kid'); } catch (err) { expect((err as HiveError).code).toBe('InvalidMessage'); }
  });
});

describe('appendPath', () => {
  it('starts a path or adds to the end of one', () => {
    const w = wire();
    appendPath(w, 'mouth');
    appendPath(w, 'filter');
    expect(path(w)).toEqual(['mouth', 'filter']);
  });
});
