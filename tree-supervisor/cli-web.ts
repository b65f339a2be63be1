/**
 * `hive web`: a live view of the tree in a browser (docs/web.md). A separate process, a D-Bus
 * client of the supervisor holding the operator's credential (as `hive stop` does), serving one
 * page on loopback or a unix socket behind a token made at start. It runs until Ctrl-C (exit 0)
 * or until the hive ends (exit 1).
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createLogger } from '../protocol/logger.js';
import { CliError, findHive } from './cli-client.js';
import { EXIT_CODES } from './exit-codes.js';
import type { RuntimeInfo } from './runtime-file.js';
import { ListenError, parseListen } from './web/listen.js';
import { startWeb } from './web/server.js';

export const WEB_HELP = `usage: hive web [--listen HOST:PORT | unix:PATH] [--json] [--config FILE | --instance NAME]

Serves a live view of the tree in a browser: the nodes drawn as a tree (state, pid, restarts,
uptime, counters), each node's log lines and the messages flowing through it, and buttons to
stop, start, restart or unload it. Prints the address to open; it carries a token made at this
start (like Jupyter's): anyone with it is the operator of this hive until \`hive web\` ends.
Also serves /metrics for Prometheus (the token as ?token= or Authorization: Bearer). Runs until
Ctrl-C, or until the hive ends (exit 1). Loopback only; see docs/web.md for SSH forwarding.

      --listen ADDR     127.0.0.1:PORT, [::1]:PORT or PORT (default: 127.0.0.1 and a free port),
                        or unix:PATH (a new socket, mode 0600)
      --json            print {"url","token","port"|"socket"} on one line instead of the address
  -c, --config FILE     find the hive by its config file (its instance)
  -i, --instance NAME   find the hive by instance name (default: default)
`;

export async function web(info: RuntimeInfo, opts: { listen?: string; json?: boolean; signal?: AbortSignal }, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let listen;
  try { listen = parseListen(opts.listen); } catch (err) {
    if (err instanceof ListenError) throw new CliError(`hive web: ${err.message}`, EXIT_CODES.usage);
    throw err;
  }
  const log = createLogger({ node: 'web' });
  let server;
  try {
    server = await startWeb(info, { listen, log });
  } catch (err) {
    if (err instanceof ListenError) throw new CliError(`hive web: ${err.message}`, EXIT_CODES.error);
    throw err;
  }
  if (opts.json) out.write(JSON.stringify({ url: server.url, token: server.token, ...(server.socket ? { socket: server.socket } : { port: server.port }) }) + '\n');
  else if (server.socket) out.write(`hive web: listening on unix:${server.socket}\nforward it (ssh -L 8080:${server.socket} HOST) and open http://localhost:8080/?token=${server.token}\n`);
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
    // Our own close ends the bus connection too: that is not the hive ending.
    if (!ending) process.stderr.write(`hive web: the hive '${info.instance}' ended\n`);
    return EXIT_CODES.error;
  })]);
  ending = true;
  await server.close();
  if (server.socket) await import('node:fs/promises').then((fs) => fs.rm(server.socket!, { force: true }));
  log.flush();
  return code;
}

/** Run directly (`node dist/tree-supervisor/cli-web.js …`) until `hive web` is wired into cli.ts. */
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
