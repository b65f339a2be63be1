import { describe, expect, it } from 'vitest';
import { RoomStamps } from './room-stamps.js';

describe('RoomStamps', () => {
  it('matches a reflection to the oldest copy with that text in that room, once', () => {
    const s = new RoomStamps<string>(1000);
    s.sent('r1', '<alice> hi', 'first', 0);
    s.sent('r1', '<alice> hi', 'second', 1);
    s.sent('r2', '<alice> hi', 'other room', 1);
    expect(s.reflected('r1', '<alice> hi', 5)).toBe('first');
    expect(s.reflected('r1', '<alice> hi', 5)).toBe('second');
    expect(s.reflected('r1', '<alice> hi', 5)).toBeUndefined();
    expect(s.reflected('r2', '<bob> hi', 5)).toBeUndefined();
  });

  it('is bounded per room and in age', () => {
    const s = new RoomStamps<number>(100, 2);
    for (let i = 0; i < 4; i++) s.sent('r', `t${i}`, i, i);
    expect(s.reflected('r', 't0', 10)).toBeUndefined();
    expect(s.reflected('r', 't3', 10)).toBe(3);
    expect(s.reflected('r', 't2', 200)).toBeUndefined();
  });
});
