/**
 * Runs once before all test files: checks that the system programs the suite needs are there
 * (a missing one is a failure naming what to install, never a skip) and that the build exists,
 * since the node processes the tests start are the compiled JavaScript.
 */
import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import which from '../../tree-supervisor/which.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const PROGRAMS: [program: string, pkg: string][] = [
  ['dbus-daemon', 'dbus'],
  ['gdbus', 'libglib2.0-bin'],
  ['ngircd', 'ngircd'],
  ['inspircd', 'inspircd'],
  ['openssl', 'openssl'],
  ['socat', 'socat'],
  ['atheme-services', 'atheme-services'],
];

export default async function setup(): Promise<void> {
  const missing: string[] = [];
  for (const [program, pkg] of PROGRAMS) if (!(await which(program))) missing.push(`${program} (package ${pkg})`);
  if (missing.length) {
    throw new Error(`missing system programs: ${missing.join(', ')}.\nRun: sudo scripts/install-system-deps`);
  }
  try {
    await access(join(ROOT, 'dist/plugins/run.js'));
  } catch {
    throw new Error('dist/ is missing: run `npm run build` (npm test does it for you)');
  }
}
