// `npm run fuzz` as part of the suite: a short, seeded run of random and mutated server lines and
// D-Bus bodies against a running hive (scripts/fuzz.ts). Nothing may crash, every probe sent on a
// connection the input did not cut must be answered, and refusals must be counted as malformed.
// Repeat a run with FUZZ_SEED=<seed>; longer runs: npm run fuzz -- --seconds 300.
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { DIST } from '../helpers/paths.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('fuzz', () => {
  it(`takes random and mutated server lines and D-Bus bodies without a crash (seed ${SEED})`, async () => {
    const r = await execa('node', [`${DIST}/scripts/fuzz.js`, '--seconds', '8', '--seed', String(SEED), '--json'], { reject: false, timeout: 90_000 });
    expect(r.exitCode, `fuzz output: ${r.stdout}\n${r.stderr}`).toBe(0);
    const report = JSON.parse(r.stdout) as { crashes: number; crash_details: string[]; inputs: { server_lines: number; dbus_calls: number }; probes: { sent: number; answered: number; lost: number }; malformed: Record<string, number> };
    expect(report.crash_details).toEqual([]);
    expect(report.inputs.server_lines).toBeGreaterThan(100);
    expect(report.inputs.dbus_calls).toBeGreaterThan(10);
    expect(report.probes.sent).toBeGreaterThan(5);
    expect(report.probes.answered + report.probes.lost).toBe(report.probes.sent);
    expect(report.probes.answered).toBeGreaterThan(0);
    expect(Object.values(report.malformed).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  }, 120_000);
});
