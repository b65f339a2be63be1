import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnsweredSet, SentJournal, type SentMessage } from './answered-set.js';

/** A reply `replyTo` from `origin` through the child `via` (its connection `:via`), with no id of its own unless given. */
function reply(via: string, origin: string, replyTo: string | undefined, replayed: boolean, extra: Partial<SentMessage> = {}): SentMessage {
  return { via, conn: `:${via}`, origin, id: undefined, replyTo, replayed, network: '', ...extra };
}
const always = () => true;
/** As the mouth does: a duplicate is not sent; anything else is sent, and remembered. */
function admit(a: AnsweredSet, m: SentMessage, attached: (conn: string) => boolean) {
  const dup = a.duplicate(m, attached);
  if (dup === undefined) a.remember(m);
  return dup;
}

describe('AnsweredSet', () => {
  it('drops a reply to a replayed message that was already answered by the same node', () => {
    const a = new AnsweredSet();
    expect(admit(a, reply('echo', 'echo', 'm1', false), always)).toBeUndefined();
    expect(admit(a, reply('echo', 'echo', 'm1', true), always)).toBe('answer');
    expect(admit(a, reply('other', 'other', 'm1', true), always)).toBeUndefined();
    expect(admit(a, reply('echo', 'echo', 'm2', true), always)).toBeUndefined();
    expect(admit(a, reply('echo', 'echo', 'm2', true), always)).toBe('answer');
  });
  it('lets a node answer one message twice when nothing was replayed', () => {
    const a = new AnsweredSet();
    expect(admit(a, reply('echo', 'echo', 'm1', false), always)).toBeUndefined();
    expect(admit(a, reply('echo', 'echo', 'm1', false), always)).toBeUndefined();
  });
  it('one message answered on two networks is two replies', () => {
    const a = new AnsweredSet();
    expect(admit(a, reply('bridge', 'bridge', 'm1', false, { network: 'a' }), always)).toBeUndefined();
    expect(admit(a, reply('bridge', 'bridge', 'm1', true, { network: 'b' }), always)).toBeUndefined();
    expect(admit(a, reply('bridge', 'bridge', 'm1', true, { network: 'a' }), always)).toBe('answer');
    expect(admit(a, reply('bridge', 'bridge', 'm1', true, { network: 'b' }), always)).toBe('answer');
  });
  // Issue 14, item 9: the key was the claimed hive.origin alone, so another child claiming to be
  // `echo` could make echo's own answer to a replayed message look like a second one.
  it('keys on the verified child too: a claimed origin cannot shadow another child\'s answers', () => {
    const a = new AnsweredSet();
    expect(admit(a, reply('evil', 'echo', 'm1', false), always)).toBeUndefined();
    expect(admit(a, reply('echo', 'echo', 'm1', true), always)).toBeUndefined();
    expect(admit(a, reply('echo', 'echo', 'm1', true), always)).toBe('answer');
  });
  it('a node that answered as the mouth\'s own child, then answers the replay through a filter it was moved back under, is a duplicate', () => {
    const a = new AnsweredSet();
    expect(admit(a, reply('b', 'b', 'm1', false), always)).toBeUndefined();
    expect(admit(a, reply('f1', 'b', 'm1', true), always)).toBe('answer');
    // Not the other way round: a claim through a filter is only as good as the filter.
    const c = new AnsweredSet();
    expect(admit(c, reply('f1', 'b', 'm2', false), always)).toBeUndefined();
    expect(admit(c, reply('b', 'b', 'm2', true), always)).toBeUndefined();
  });
  it('forgets the oldest replies beyond its size', () => {
    const a = new AnsweredSet(2);
    admit(a, reply('n', 'n', '1', false), always); admit(a, reply('n', 'n', '2', false), always); admit(a, reply('n', 'n', '3', false), always);
    expect(admit(a, reply('n', 'n', '1', true), always)).toBeUndefined();
    expect(admit(a, reply('n', 'n', '3', true), always)).toBe('answer');
  });

  // The chaos test answered b:257 (and d:195) twice: b's Send was pending in f1 when f1 was killed
  // after passing it to the mouth; b, moved to the mouth, sent it again marked hive.replayed, and the
  // key (child, origin, reply_to) was (f1, b, m) the first time and (b, b, m) the second.
  describe('the same message sent again after its parent died', () => {
    const gone = (conn: string) => conn !== ':f1';
    it('through the node itself, moved to the mouth: not sent twice', () => {
      const a = new AnsweredSet();
      expect(admit(a, reply('f1', 'b', 'm1', false, { id: 'b-1' }), always)).toBeUndefined();
      expect(admit(a, reply('b', 'b', 'm1', true, { id: 'b-1' }), gone)).toBe('resent');
    });
    it('through a filter under the dead one (d under f2 under f1: f2 sends it again): not sent twice', () => {
      const a = new AnsweredSet();
      expect(admit(a, reply('f1', 'd', 'm1', false, { id: 'd-1' }), always)).toBeUndefined();
      expect(admit(a, reply('f2', 'd', 'm1', true, { id: 'd-1' }), gone)).toBe('resent');
    });
    it('through the same child of the mouth (a deeper filter died): not sent twice', () => {
      const a = new AnsweredSet();
      expect(admit(a, reply('f1', 'd', 'm1', false, { id: 'd-1' }), always)).toBeUndefined();
      expect(admit(a, reply('f1', 'd', 'm1', true, { id: 'd-1' }), always)).toBe('resent');
    });
    it('a message that is no reply (an announcement) is not sent twice either', () => {
      const a = new AnsweredSet();
      expect(admit(a, reply('f1', 'timer', undefined, false, { id: 't-1' }), always)).toBeUndefined();
      expect(admit(a, reply('timer', 'timer', undefined, true, { id: 't-1' }), gone)).toBe('resent');
    });
    it('what the dead parent never passed on is sent, and so is a second part of the answer (its own id)', () => {
      const a = new AnsweredSet();
      expect(admit(a, reply('f1', 'b', 'm1', false, { id: 'b-1' }), always)).toBeUndefined();
      expect(admit(a, reply('b', 'b', 'm1', true, { id: 'b-2' }), gone)).toBeUndefined();
      expect(admit(a, reply('b', 'b', 'm2', true, { id: 'b-3' }), gone)).toBeUndefined();
    });
    it('the same id not marked replayed is sent (a plugin that reuses ids is not silenced)', () => {
      const a = new AnsweredSet();
      expect(admit(a, reply('p', 'p', undefined, false, { id: 'same' }), always)).toBeUndefined();
      expect(admit(a, reply('p', 'p', undefined, false, { id: 'same' }), always)).toBeUndefined();
    });
    it('hostile: a child still attached that sent an id first cannot shadow another node\'s resend of it', () => {
      const a = new AnsweredSet();
      // evil (once b's ancestor, so it knows b's ids) sends b's next id with origin b, and stays.
      expect(admit(a, reply('evil', 'b', undefined, false, { id: 'b-9' }), always)).toBeUndefined();
      expect(admit(a, reply('b', 'b', 'm1', true, { id: 'b-9' }), always)).toBeUndefined();
      // Nor with another origin or on another network.
      const c = new AnsweredSet();
      expect(admit(c, reply('f1', 'x', 'm1', false, { id: 'b-1' }), always)).toBeUndefined();
      expect(admit(c, reply('b', 'b', 'm1', true, { id: 'b-1' }), gone)).toBeUndefined();
      expect(admit(c, reply('f1', 'b', 'm1', false, { id: 'b-2', network: 'a' }), always)).toBeUndefined();
      expect(admit(c, reply('b', 'b', 'm1', true, { id: 'b-2', network: 'b' }), gone)).toBeUndefined();
    });
    it('a message the network refused was not sent: its resend is sent', () => {
      const a = new AnsweredSet();
      const first = reply('f1', 'b', 'm1', false, { id: 'b-1' });
      expect(a.duplicate(first, always)).toBeUndefined(); // refused (QueueFull): not remembered
      expect(admit(a, reply('b', 'b', 'm1', true, { id: 'b-1' }), gone)).toBeUndefined();
      expect(admit(a, reply('b', 'b', 'm1', true, { id: 'b-1' }), gone)).toBe('resent');
    });
    it('forgets the oldest ids beyond its size', () => {
      const a = new AnsweredSet(20_000, 2);
      for (const id of ['1', '2', '3']) admit(a, reply('f1', 'n', undefined, false, { id }), always);
      expect(admit(a, reply('n', 'n', undefined, true, { id: '1' }), gone)).toBeUndefined();
      expect(admit(a, reply('n', 'n', undefined, true, { id: '3' }), gone)).toBe('resent');
    });
  });
});

describe('SentJournal', () => {
  const dirs: string[] = [];
  const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'hive-journal-')); dirs.push(d); return d; };
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
  const noError = (err: unknown) => { throw err; };

  it('the next run reads what the last one sent, and recognises its resend', () => {
    const dir = tmp();
    const first = new SentJournal(dir, noError);
    expect(first.open()).toEqual([]);
    first.record('b', 'b-1', 'irc', ':1.7');
    first.record('d', 'd-1', 'irc', ':1.8');
    // kill -9: nothing closed, nothing flushed but the writes themselves.
    const second = new SentJournal(dir, noError);
    const a = new AnsweredSet();
    a.restore(second.open());
    expect(a.duplicate(reply('b', 'b', 'm1', true, { id: 'b-1', network: 'irc' }), (c) => c !== ':1.7')).toBe('resent_after_restart');
    expect(a.duplicate(reply('f2', 'd', 'm1', true, { id: 'd-1', network: 'irc' }), (c) => c !== ':1.8')).toBe('resent_after_restart');
    expect(a.duplicate(reply('b', 'b', 'm1', true, { id: 'b-2', network: 'irc' }), always)).toBeUndefined();
    // A run that sent nothing hands them on once more (its file was empty); the one after drops them.
    second.close();
    expect(new SentJournal(dir, noError).open()).toEqual([['b', 'b-1', 'irc', ':1.7'], ['d', 'd-1', 'irc', ':1.8']]);
    expect(new SentJournal(dir, noError).open()).toEqual([]);
  });
  it('keeps two files of at most perFile lines: the newest 2 × perFile at most', () => {
    const dir = tmp();
    const j = new SentJournal(dir, noError, 3);
    j.open();
    for (let i = 0; i < 10; i++) j.record('n', `n-${i}`, 'irc', ':1.1');
    expect(new SentJournal(dir, noError, 3).open().map((e) => e[1])).toEqual(['n-6', 'n-7', 'n-8', 'n-9']);
  });
  it('hostile: an id with a newline or quotes cannot forge a line; cut and foreign lines are skipped', () => {
    const dir = tmp();
    const j = new SentJournal(dir, noError);
    j.open();
    j.record('evil', 'x"]\n["b","b-1","irc",":1.7"]', 'irc', ':1.9');
    j.close();
    writeFileSync(join(dir, 'sent-ids.0'), `${readFileSync(join(dir, 'sent-ids.0'), 'utf8')}["cut","line\n{"not":"a list"}\n["a","b","c"]\n[1,2,3,4]\n["${'x'.repeat(300)}","i","n","c"]\n`);
    const entries = new SentJournal(dir, noError).open();
    expect(entries).toEqual([['evil', 'x"]\n["b","b-1","irc",":1.7"]', 'irc', ':1.9']]);
  });
  it('a state dir it cannot write to is said once, and the mouth goes on without', () => {
    const errors: string[] = [];
    const j = new SentJournal(join(tmp(), 'missing'), (_err, what) => errors.push(what));
    expect(j.open()).toEqual([]);
    j.record('b', 'b-1', 'irc', ':1.7');
    expect(errors).toEqual(['open']);
  });
});
