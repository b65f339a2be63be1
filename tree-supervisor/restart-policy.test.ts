import { describe, expect, test } from 'vitest';
import { decideOnDeath, type Death } from './restart-policy.js';
import { createRestartIntensity } from './restart-intensity.js';

const death = (o: Partial<Death> = {}): Death => ({ stopping: false, terminalMouth: false, code: 1, why: 'exited with 1', attempt: 0, now: 1000, ...o });
const intensity = (max = 5) => createRestartIntensity({ max, withinMs: 60_000 });

describe('decideOnDeath', () => {
  test('a node being stopped stays stopped, whatever its exit, and uses up no restart', () => {
    const i = intensity(0);
    expect(decideOnDeath(death({ stopping: true, code: 2 }), i)).toEqual({ do: 'stop' });
    expect(i.recent(1000)).toBe(0);
  });

  test('the terminal mouth that exits 0 ends the hive; exiting otherwise it is restarted', () => {
    expect(decideOnDeath(death({ terminalMouth: true, code: 0 }), intensity())).toEqual({ do: 'end-hive' });
    expect(decideOnDeath(death({ terminalMouth: true, code: 1 }), intensity()).do).toBe('restart');
  });

  test('exit 2 (the node refused its configuration) is failed at once, not restarted', () => {
    expect(decideOnDeath(death({ code: 2 }), intensity())).toEqual({ do: 'fail', because: 'refused-config', error: 'refused its configuration (exit 2); see the log' });
  });

  test('a death is restarted with a backoff that grows with the attempt', () => {
    const first = decideOnDeath(death({ attempt: 0 }), intensity());
    const third = decideOnDeath(death({ attempt: 2 }), intensity());
    expect(first.do === 'restart' && first.delayMs).toBeGreaterThanOrEqual(80);
    expect(first.do === 'restart' && first.delayMs).toBeLessThanOrEqual(120);
    expect(third.do === 'restart' && third.delayMs).toBeGreaterThanOrEqual(320);
  });

  test('intensity exceeded stops restarting, naming the last cause', () => {
    const i = intensity(1);
    expect(decideOnDeath(death(), i).do).toBe('restart');
    expect(decideOnDeath(death({ why: 'exited with SIGKILL' }), i)).toEqual({ do: 'fail', because: 'too-many-restarts', error: 'too many restarts (last: exited with SIGKILL)' });
  });
});
