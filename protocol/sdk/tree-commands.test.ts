import { describe, expect, it } from 'vitest';
import { checkCommands, HELP_LIMITS } from './tree-commands.js';

describe('checkCommands', () => {
  it('keeps the good pairs of a node and counts the rest', () => {
    const r = checkCommands([['ping', 'ping — answers pong'], ['bad\r\nPRIVMSG #x :hi', 'x'], ['ok', 'a\nb'], ['n', 5], 'junk', [' pad', 'x']]);
    expect(r).toEqual({ commands: [['ping', 'ping — answers pong']], refused: 5 });
  });

  it('refuses a value that is not a list, and entries past the per-node bound', () => {
    expect(checkCommands({ ping: 'x' })).toEqual({ commands: [], refused: 1 });
    const many = Array.from({ length: HELP_LIMITS.maxCommandsPerNode + 3 }, (_, i) => [`c${i}`, `c${i} — help`]);
    const r = checkCommands(many);
    expect(r.commands).toHaveLength(HELP_LIMITS.maxCommandsPerNode);
    expect(r.refused).toBe(3);
  });
});
