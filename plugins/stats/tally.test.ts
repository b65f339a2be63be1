import { describe, expect, it } from 'vitest';
import { summary, Tally, top } from './tally.js';

const empty = () => ({ total: 0, plugins: {}, users: {}, channels: {} });

describe('Tally', () => {
  it('counts a command once when answered, once per answering plugin; unanswered ones not at all', () => {
    const t = new Tally(empty());
    t.command('m1', 'alice', '#one', 0);
    t.command('m2', 'bob', undefined, 0);
    t.command('m3', 'alice', '#one', 0);
    expect(t.answered('m1', 'ping')).toBe(true);
    expect(t.answered('m1', 'ping')).toBe(false); // a second line of the same answer
    expect(t.answered('m1', 'help')).toBe(true);
    expect(t.answered('m2', 'echo')).toBe(true);
    expect(t.answered('nope', 'echo')).toBe(false);
    t.command('m1', 'alice', '#one', 1); // replayed: not a new command
    expect(t.answered('m1', 'ping')).toBe(false);
    expect(t.counts).toEqual({ total: 2, plugins: { ping: 1, help: 1, echo: 1 }, users: { alice: 1, bob: 1 }, channels: { '#one': 1 } });
  });

  it('forgets commands after a while, and bounds how many it remembers', () => {
    const t = new Tally(empty(), 1000, 3);
    t.command('old', 'a', '#c', 0);
    t.command('new', 'a', '#c', 1500);
    expect(t.answered('old', 'p')).toBe(false);
    for (const id of ['x', 'y', 'z', 'w']) t.command(id, 'a', '#c', 1600);
    expect(t.answered('new', 'p')).toBe(false);
    expect(t.answered('w', 'p')).toBe(true);
  });
});

describe('summary', () => {
  it('shows the total and the top entries of each kind', () => {
    expect(top({ a: 1, b: 3, c: 3, d: 2 }, 3)).toEqual([['b', 3], ['c', 3], ['d', 2]]);
    const since = Date.UTC(2025, 0, 31, 14, 5);
    expect(summary({ total: 15, plugins: { ping: 12, echo: 3 }, users: { alice: 9, bob: 6 }, channels: { '#one': 15 } }, 1, since))
      .toBe('15 commands since 2025-01-31 · top plugins: ping 12 · top users: alice 9 · top channels: #one 15');
    expect(summary({ total: 1, plugins: { ping: 1 }, users: { bob: 1 }, channels: {} }, 5, since))
      .toBe('1 command since 2025-01-31 · top plugins: ping 1 · top users: bob 1 · top channels: none');
    expect(summary(empty(), 5, since)).toBe('no commands counted since 2025-01-31 14:05 UTC');
  });
});
