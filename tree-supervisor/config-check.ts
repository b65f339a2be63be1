/**
 * The process of config-checker.ts: one check (its request as JSON on stdin), its verdict as JSON
 * on stdout, then it ends and its memory (yaml, zod, the schemas) goes with it. The checks are the
 * ones `hive up` always made; only where they run changed.
 */
import { HiveError } from '../protocol/errors.js';
import { ConfigError } from './config-errors.js';
import { defaultConfig } from './config.js';
import type { CheckAnswer, CheckRequest } from './config-checker.js';
import { parseLoadSpec } from './load-spec.js';
import { checkBuiltins, readHiveConfig } from './read-config.js';

function check(req: CheckRequest): CheckAnswer {
  try {
    switch (req.do) {
      case 'file': {
        const { config, secretPaths } = readHiveConfig(req.file);
        return { ok: true, config, secretPaths: [...secretPaths] };
      }
      case 'default': {
        const config = defaultConfig();
        checkBuiltins(config);
        return { ok: true, config, secretPaths: [] };
      }
      case 'load':
        return { ok: true, spec: parseLoadSpec(req.text, req.nodes, req.baseDir) };
    }
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, config: { problems: [...err.problems], file: err.file } };
    if (err instanceof HiveError) return { ok: false, hive: { code: err.code, message: err.message } };
    return { ok: false, other: (err as Error).message ?? String(err) };
  }
}

const chunks: Buffer[] = [];
process.stdin.on('data', (d: Buffer) => chunks.push(d));
process.stdin.on('end', () => {
  // From the supervisor, which started this process for it.
  const req = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CheckRequest;
  process.stdout.write(JSON.stringify(check(req)));
});
