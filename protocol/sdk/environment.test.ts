// readNodeEnv: the operator's choices the runtime reads from the environment, and what is refused.
import { describe, expect, it } from 'vitest';
import { EnvironmentError, readNodeEnv } from './environment.js';

const base = { HIVE_NODE: 'seen', HIVE_TOKEN: 't0k3n' };

describe('readNodeEnv', () => {
  it('reads HIVE_READ_DELAY_MS, HIVE_LEAF and HIVE_CONFIG_CHECKED; unset, the runtime default', () => {
    expect(readNodeEnv(base)).toMatchObject({ readDelayMs: undefined, leaf: false, configChecked: false });
    expect(readNodeEnv({ ...base, HIVE_READ_DELAY_MS: '0', HIVE_LEAF: '1', HIVE_CONFIG_CHECKED: '1' })).toMatchObject({ readDelayMs: 0, leaf: true, configChecked: true });
    expect(readNodeEnv({ ...base, HIVE_READ_DELAY_MS: '1000' }).readDelayMs).toBe(1000);
  });

  it('refuses a read delay that is not whole milliseconds from 0 to 1000, and a HIVE_LEAF that is not 0 or 1, naming each', () => {
    for (const bad of ['-1', '1001', '2.5', 'soon', '1e3x']) {
      expect(() => readNodeEnv({ ...base, HIVE_READ_DELAY_MS: bad }), bad).toThrow(/HIVE_READ_DELAY_MS: expected whole milliseconds from 0 to 1000/);
    }
    expect(() => readNodeEnv({ ...base, HIVE_LEAF: 'yes', HIVE_READ_DELAY_MS: 'x' })).toThrow(EnvironmentError);
    try { readNodeEnv({ ...base, HIVE_LEAF: 'yes', HIVE_READ_DELAY_MS: 'x' }); } catch (err) {
      expect((err as Error).message).toMatch(/HIVE_LEAF: expected 1/);
      expect((err as Error).message).toMatch(/HIVE_READ_DELAY_MS/);
    }
  });
});
