import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DIST = join(ROOT, 'dist');
export const fixture = (name: string) => join(DIST, 'test/fixtures', `${name}.js`);
export const shellFixture = (name: string) => join(ROOT, 'test/fixtures', name);
export const pluginRunner = join(DIST, 'plugins/run.js');
