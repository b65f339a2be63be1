// hive_testing.py, the Python twin of hive/testing, run the way a Python author runs it: unittest
// on test_hive_testing.py (the harness itself) and on the example plugin's test_responder.py, and
// pytest on test_responder.py and test_filter.py (a fixture-style test) where a python3 has pytest.
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths.js';

const PYTHON = '/usr/bin/python3';
const EXAMPLES = join(ROOT, 'plugins/examples/python');
const env = { PYTHONPATH: join(ROOT, 'protocol/sdk/python'), PYTHONDONTWRITEBYTECODE: '1' };

/** Runs a Python test command; on failure the assertion shows its whole output. */
async function run(python: string, args: string[], cwd: string) {
  const r = await execa(python, args, { cwd, env, reject: false, all: true, timeout: 170_000 });
  return { code: r.exitCode, out: String(r.all) };
}

/** A python3 that has pytest (Debian's with python3-pytest, or the first on the PATH), or undefined. */
async function pytestPython(): Promise<string | undefined> {
  for (const p of [PYTHON, 'python3']) {
    if ((await execa(p, ['-c', 'import pytest'], { reject: false })).exitCode === 0) return p;
  }
  return undefined;
}

describe('hive_testing.py', () => {
  it('passes its own tests under unittest, with no resource left open', async () => {
    const r = await run(PYTHON, ['-W', 'error::ResourceWarning', '-m', 'unittest', '-v', 'test_hive_testing.py'], join(ROOT, 'test/testing'));
    expect(r.out).toMatch(/Ran 8 tests/);
    expect(r.code, r.out).toBe(0);
  }, 180_000);

  it('runs the example responder\'s test_responder.py under unittest', async () => {
    const r = await run(PYTHON, ['-m', 'unittest', '-v', 'test_responder.py'], EXAMPLES);
    expect(r.out).toMatch(/Ran 4 tests/);
    expect(r.code, r.out).toBe(0);
  }, 180_000);

  it('runs test_responder.py and the fixture-style test_filter.py under pytest', async () => {
    const python = await pytestPython();
    // A missing program is a failure that says how to get it (scripts/install-system-deps does).
    if (!python) throw new Error('no python3 with pytest here: apt-get install python3-pytest (scripts/install-system-deps)');
    const r = await run(python!, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'test_responder.py', 'test_filter.py'], EXAMPLES);
    expect(r.out).toMatch(/7 passed/);
    expect(r.code, r.out).toBe(0);
  }, 180_000);
});
