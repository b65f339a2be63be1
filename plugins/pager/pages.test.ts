import { describe, expect, it } from 'vitest';
import { hintText, pageKey, pagedTarget, splitPage } from './pages.js';

const l = (command: string, ...params: string[]) => ({ command, params });

describe('pages', () => {
  it('keys by network, target and user, case-insensitively', () => {
    expect(pageKey('net', '#One', 'Alice')).toBe(pageKey('net', '#one', 'alice'));
    expect(pageKey('net', '#one', 'alice')).not.toBe(pageKey('net', '#one', 'bob'));
    expect(pageKey('net', '#one', undefined)).not.toBe(pageKey('net', '#one', 'alice'));
    expect(pageKey('a', '#one', 'x')).not.toBe(pageKey('b', '#one', 'x'));
  });

  it('splits after n lines and words the hint', () => {
    expect(splitPage([1, 2, 3, 4, 5, 6], 4)).toEqual({ first: [1, 2, 3, 4], rest: [5, 6] });
    expect(splitPage([1, 2], 4)).toEqual({ first: [1, 2], rest: [] });
    expect(hintText(6, '!')).toBe('(+6 more lines: say !more)');
    expect(hintText(1, '.')).toBe('(+1 more line: say .more)');
  });

  it('pages only PRIVMSG/NOTICE lines to one target', () => {
    expect(pagedTarget([l('PRIVMSG', '#a', 'x'), l('NOTICE', '#A', 'y')])).toBe('#a');
    expect(pagedTarget([l('PRIVMSG', '#a', 'x'), l('PRIVMSG', '#b', 'y')])).toBeUndefined();
    expect(pagedTarget([l('PRIVMSG', '#a', 'x'), l('MODE', '#a', '+o', 'x')])).toBeUndefined();
    expect(pagedTarget([l('PRIVMSG', '#a,#b', 'x')])).toBeUndefined();
  });
});
