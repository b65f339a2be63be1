/**
 * The layering rules of eslint.config.js are on, and say why: each zone refuses an import that
 * goes the wrong way and lets the right one through (a rule switched off would pass everything).
 */
import { ESLint } from 'eslint';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const eslint = new ESLint({ cwd: ROOT });

async function restricted(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: join(ROOT, file) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const cases: [file: string, source: string, refused: string | undefined][] = [
  ['plugins/demo/index.ts', "import { x } from '../../tree-supervisor/config.js';\nexport { x };\n", 'imports only the SDK\'s public API'],
  ['plugins/demo/index.ts', "import { x } from '../../protocol/irc-line.js';\nexport { x };\n", 'imports only the SDK\'s public API'],
  ['plugins/demo/index.ts', "import { x } from '../pager/pages.js';\nexport { x };\n", 'another plugin\'s files'],
  ['plugins/demo/index.ts', "import { x } from '../../protocol/sdk/index.js';\nimport { y } from './y.js';\nexport { x, y };\n", undefined],
  ['plugins/examples/typescript/demo.ts', "import { x } from '../../../protocol/names.js';\nexport { x };\n", 'imports only the SDK\'s public API'],
  ['plugins/examples/typescript/demo.ts', "import { x } from '../../../protocol/sdk/index.js';\nexport { x };\n", undefined],
  ['mouth/demo.ts', "import { x } from '../tree-supervisor/backoff.js';\nexport { x };\n", 'only the tree supervisor imports tree-supervisor/'],
  ['mouth/demo.ts', "import { x } from '../plugins/ping/index.js';\nexport { x };\n", 'nothing below plugins imports a plugin'],
  ['mouth/demo.ts', "import { x } from '../protocol/sdk/node.js';\nexport { x };\n", undefined],
  ['protocol/demo.ts', "import { x } from './sdk/node.js';\nexport { x };\n", 'protocol/ is below the SDK'],
  ['protocol/sdk/demo.ts', "import { x } from '../../mouth/main.js';\nexport { x };\n", 'they do not import it'],
  ['tree-supervisor/demo.ts', "import { x } from '../mouth/irc-network.js';\nexport { x };\n", 'only the mouth\'s network config schema'],
  ['tree-supervisor/demo.ts', "import { x } from '../mouth/network-config.js';\nimport { y } from '../protocol/sdk/bus.js';\nexport { x, y };\n", undefined],
];

describe('the layering rules (eslint.config.js)', () => {
  it.each(cases)('%s: %s', async (file, source, refused) => {
    const messages = await restricted(file, source);
    if (refused === undefined) expect(messages).toEqual([]);
    else expect(messages.join('\n')).toContain(refused);
  });
});
