/**
 * `hive web`: a live view of the tree in a browser (docs/web.md). A separate process, a D-Bus
 * client of the supervisor holding the operator's credential (as `hive stop` does), serving one
 * page on loopback or a unix socket behind a token made at start. It runs until Ctrl-C (exit 0)
 * or until the hive ends (exit 1).
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CliError, findHive } from './cli-client.js';
import { EXIT_CODES } from './exit-codes.js';
import type { RuntimeInfo } from './runtime-file.js';
import { ListenError, parseListen } from './web/listen.js';
import { WEB_HELP } from './web/help.js';

export { WEB_HELP } from './web/help.js';

export async function web(info: RuntimeInfo, opts: { listen?: string; json?: boolean; signal?: AbortSignal }, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let listen;
  try { listen = parseListen(opts.listen); } catch (err) {
    if (err instanceof ListenError) throw new CliError(`hive web: ${err.message}`, EXIT_CODES.usage);
    throw err;
  }
  // Loaded here, not at the top: cli.ts imports WEB_HELP, and `hive tree` need not load hono or pino.
  const [{ startWeb }, { createLogger }] = await Promise.all([import('./web/server.js'), import('../protocol/logger.js')]);
  const log = createLogger({ node: 'web' });
  let server;
  try {
    server = await startWeb(info, { listen, log });
  } catch (err) {
    if (err instanceof ListenError) throw new CliError(`hive web: ${err.message}`, EXIT_CODES.error);
    throw err;
  }
  if (opts.json) out.write(JSON.stringify({ url: server.url, token: server.token, ...(server.socket ? { socket: server.socket } : { port: server.port }) }) + '\n');
  else if (server.socket) out.write(`hive web: listening on unix:${server.socket}\nforward it (ssh -L 8080:${server.socket} HOST) and open http://localhost:8080/#token=${server.token}\n`);
  else out.write(`hive web: open ${server.url}\n`);
  log.info({ instance: info.instance, ...(server.socket ? { socket: server.socket } : { port: server.port }) }, 'web view listening');
  const stopped = new Promise<number>((resolve) => {
    const stop = () => resolve(EXIT_CODES.ok);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    opts.signal?.addEventListener('abort', stop, { once: true });
  });
  let ending = false;
  const code = await Promise.race([stopped, server.hiveGone.then(() => {
    // Our own close ends the bus connection too: that is not the hive ending. On a shared bus
    // (session, an address) the hive ends when its supervisor's name loses its owner.
    if (!ending) process.stderr.write(`hive web: the hive '${info.instance}' ended\n`);
    return EXIT_CODES.error;
  })]);
  ending = true;
  await server.close();
  if (server.socket) await import('node:fs/promises').then((fs) => fs.rm(server.socket!, { force: true }));
  log.flush();
  return code;
}

/** Run directly (`node dist/tree-supervisor/cli-web.js …`), as the tests do; `hive web` in cli.ts calls web(). */
async function main(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' }, listen: { type: 'string' }, config: { type: 'string', short: 'c' }, instance: { type: 'string', short: 'i' } } });
  if (v.help) { process.stdout.write(WEB_HELP); return EXIT_CODES.ok; }
  return web(await findHive({ config: v.config, instance: v.instance }), { listen: v.listen, json: v.json });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
    process.stderr.write(`hive web: ${(err as Error).message}\n`);
    process.exit(err instanceof CliError ? err.exitCode : EXIT_CODES.error);
  });
}
