import { describe, expect, test } from 'vitest';
import { HiveError } from '../protocol/errors.js';
import { parseLoadSpec } from './load-spec.js';

const refusal = (text: string, nodes = ['mouth', 'ping']): string => {
  try {
    parseLoadSpec(text, nodes);
  } catch (err) {
    expect(err).toBeInstanceOf(HiveError);
    expect((err as HiveError).code).toBe('InvalidArgs');
    return (err as HiveError).message;
  }
  throw new Error('not refused');
};

describe('parseLoadSpec', () => {
  test('a good spec gets the config file\'s defaults', () => {
    expect(parseLoadSpec('name: shout\nuse: echo\n', ['mouth'])).toMatchObject({ name: 'shout', use: 'echo', parent: 'mouth', on_death: 'bypass', restart: { max: 5, within: 60_000 } });
  });

  test('the per-entry checks of the config file, every problem at once', () => {
    const message = refusal('name: Supervisor\nremote: true\nrestart: { max: 1 }\n');
    expect(message).toContain("`name`: 'Supervisor' is reserved");
    expect(message).toContain('`restart`: has no effect on a remote node');
  });

  test('a name taken and a parent that is not a node, from the live tree', () => {
    expect(refusal('name: ping\nuse: echo\n')).toContain("`name`: 'ping' is already a node");
    expect(refusal('name: x\nuse: echo\nparent: nowhere\n')).toContain("`parent`: 'nowhere' is not a node; expected one of: mouth, ping");
  });

  test('schema problems and the YAML bounds are refused too', () => {
    expect(refusal('name: x\nuse: echo\non_death: sometimes\n')).toContain('`on_death`');
    expect(refusal('[unclosed')).toContain('the plugin spec');
  });
});
