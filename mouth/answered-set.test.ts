import { describe, expect, it } from 'vitest';
import { AnsweredSet, type SentMessage } from './answered-set.js';

/** A reply `replyTo` from `origin` through the child `via` (its connection `:via`), with no id of its own unless given. */
function reply(via: string, origin: string, replyTo: string | undefined, replayed: boolean, extra: Partial<SentMessage> = {}): SentMessage {
  return { via, conn: `:${via}`, origin, id: undefined, replyTo, replayed, network: '', ...extra };
}
const always = () => true;

describe('AnsweredSet', () => {
  it('drops a reply to a replayed message that was already answered by the same node', () => {
    const a = new AnsweredSet();
    expect(a.admit(reply('echo', 'echo', 'm1', false), always)).toBeUndefined();
    expect(a.admit(reply('echo', 'echo', 'm1', true), always)).toBe('answer');
    expect(a.admit(reply('other', 'other', 'm1', true), always)).toBeUndefined();
    expect(a.admit(reply('echo', 'echo', 'm2', true), always)).toBeUndefined();
    expect(a.admit(reply('echo', 'echo', 'm2', true), always)).toBe('answer');
  });
  it('lets a node answer one message twice when nothing was replayed', () => {
    const a = new AnsweredSet();
    expect(a.admit(reply('echo', 'echo', 'm1', false), always)).toBeUndefined();
    expect(a.admit(reply('echo', 'echo', 'm1', false), always)).toBeUndefined();
  });
  it('one message answered on two networks is two replies', () => {
    const a = new AnsweredSet();
    expect(a.admit(reply('bridge', 'bridge', 'm1', false, { network: 'a' }), always)).toBeUndefined();
    expect(a.admit(reply('bridge', 'bridge', 'm1', true, { network: 'b' }), always)).toBeUndefined();
    expect(a.admit(reply('bridge', 'bridge', 'm1', true, { network: 'a' }), always)).toBe('answer');
    expect(a.admit(reply('bridge', 'bridge', 'm1', true, { network: 'b' }), always)).toBe('answer');
  });
  // Issue 14, item 9: the key was the claimed hive.origin alone, so another child claiming to be
  // `echo` could make echo's own answer to a replayed message look like a second one.
  it('keys on the verified child too: a claimed origin cannot shadow another child\'s answers', () => {
    const a = new AnsweredSet();
    expect(a.admit(reply('evil', 'echo', 'm1', false), always)).toBeUndefined();
    expect(a.admit(reply('echo', 'echo', 'm1', true), always)).toBeUndefined();
    expect(a.admit(reply('echo', 'echo', 'm1', true), always)).toBe('answer');
  });
  it('a node that answered as the mouth\'s own child, then answers the replay through a filter it was moved back under, is a duplicate', () => {
    const a = new AnsweredSet();
    expect(a.admit(reply('b', 'b', 'm1', false), always)).toBeUndefined();
    expect(a.admit(reply('f1', 'b', 'm1', true), always)).toBe('answer');
    // Not the other way round: a claim through a filter is only as good as the filter.
    const c = new AnsweredSet();
    expect(c.admit(reply('f1', 'b', 'm2', false), always)).toBeUndefined();
    expect(c.admit(reply('b', 'b', 'm2', true), always)).toBeUndefined();
  });
  it('forgets the oldest replies beyond its size', () => {
    const a = new AnsweredSet(2);
    a.admit(reply('n', 'n', '1', false), always); a.admit(reply('n', 'n', '2', false), always); a.admit(reply('n', 'n', '3', false), always);
    expect(a.admit(reply('n', 'n', '1', true), always)).toBeUndefined();
    expect(a.admit(reply('n', 'n', '3', true), always)).toBe('answer');
  });

  // The chaos test answered b:257 (and d:195) twice: b's Send was pending in f1 when f1 was killed
  // after passing it to the mouth; b, moved to the mouth, sent it again marked hive.replayed, and the
  // key (child, origin, reply_to) was (f1, b, m) the first time and (b, b, m) the second.
  describe('the same message sent again after its parent died', () => {
    const gone = (conn: string) => conn !== ':f1';
    it('through the node itself, moved to the mouth: not sent twice', () => {
      const a = new AnsweredSet();
      expect(a.admit(reply('f1', 'b', 'm1', false, { id: 'b-1' }), always)).toBeUndefined();
      expect(a.admit(reply('b', 'b', 'm1', true, { id: 'b-1' }), gone)).toBe('resent');
    });
    it('through a filter under the dead one (d under f2 under f1: f2 sends it again): not sent twice', () => {
      const a = new AnsweredSet();
      expect(a.admit(reply('f1', 'd', 'm1', false, { id: 'd-1' }), always)).toBeUndefined();
      expect(a.admit(reply('f2', 'd', 'm1', true, { id: 'd-1' }), gone)).toBe('resent');
    });
    it('through the same child of the mouth (a deeper filter died): not sent twice', () => {
      const a = new AnsweredSet();
      expect(a.admit(reply('f1', 'd', 'm1', false, { id: 'd-1' }), always)).toBeUndefined();
      expect(a.admit(reply('f1', 'd', 'm1', true, { id: 'd-1' }), always)).toBe('resent');
    });
    it('a message that is no reply (an announcement) is not sent twice either', () => {
      const a = new AnsweredSet();
      expect(a.admit(reply('f1', 'timer', undefined, false, { id: 't-1' }), always)).toBeUndefined();
      expect(a.admit(reply('timer', 'timer', undefined, true, { id: 't-1' }), gone)).toBe('resent');
    });
    it('what the dead parent never passed on is sent, and so is a second part of the answer (its own id)', () => {
      const a = new AnsweredSet();
      expect(a.admit(reply('f1', 'b', 'm1', false, { id: 'b-1' }), always)).toBeUndefined();
      expect(a.admit(reply('b', 'b', 'm1', true, { id: 'b-2' }), gone)).toBeUndefined();
      expect(a.admit(reply('b', 'b', 'm2', true, { id: 'b-3' }), gone)).toBeUndefined();
    });
    it('the same id not marked replayed is sent (a plugin that reuses ids is not silenced)', () => {
      const a = new AnsweredSet();
      expect(a.admit(reply('p', 'p', undefined, false, { id: 'same' }), always)).toBeUndefined();
      expect(a.admit(reply('p', 'p', undefined, false, { id: 'same' }), always)).toBeUndefined();
    });
    it('hostile: a child still attached that sent an id first cannot shadow another node\'s resend of it', () => {
      const a = new AnsweredSet();
      // evil (once b's ancestor, so it knows b's ids) sends b's next id with origin b, and stays.
      expect(a.admit(reply('evil', 'b', undefined, false, { id: 'b-9' }), always)).toBeUndefined();
      expect(a.admit(reply('b', 'b', 'm1', true, { id: 'b-9' }), always)).toBeUndefined();
      // Nor with another origin or on another network.
      const c = new AnsweredSet();
      expect(c.admit(reply('f1', 'x', 'm1', false, { id: 'b-1' }), always)).toBeUndefined();
      expect(c.admit(reply('b', 'b', 'm1', true, { id: 'b-1' }), gone)).toBeUndefined();
      expect(c.admit(reply('f1', 'b', 'm1', false, { id: 'b-2', network: 'a' }), always)).toBeUndefined();
      expect(c.admit(reply('b', 'b', 'm1', true, { id: 'b-2', network: 'b' }), gone)).toBeUndefined();
    });
    it('forgets the oldest ids beyond its size', () => {
      const a = new AnsweredSet(20_000, 2);
      for (const id of ['1', '2', '3']) a.admit(reply('f1', 'n', undefined, false, { id }), always);
      expect(a.admit(reply('n', 'n', undefined, true, { id: '1' }), gone)).toBeUndefined();
      expect(a.admit(reply('n', 'n', undefined, true, { id: '3' }), gone)).toBe('resent');
    });
  });
});
