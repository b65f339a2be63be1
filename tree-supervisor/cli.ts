/**
 * The `hive` command. Every subcommand has --help; those that print data have --json.
 * Exit codes: see exit-codes.ts and docs/cli.md.
 */
// Each command's modules are imported when it runs: `hive up` becomes the supervisor, which must
// not keep what the other commands use (yaml, zod, the client's code; issue 17).
import { parseArgs } from 'node:util';
import { EXIT_CODES } from './exit-codes.js';
import { CliError } from './cli-error.js';
import { ConfigError } from './config-errors.js';
import { dirname, resolve } from 'node:path';
import { WEB_HELP } from './web/help.js';
import type { ReloadResult } from './supervisor.js';

const FIND = '  -c, --config FILE     find the hive by its config file (its instance)\n  -i, --instance NAME   find the hive by instance name (default: default)\n';

const REMOTE = 'A remote node (remote: true) is refused with exit 4: it runs elsewhere (docs/deploy.md).\n';

const HELP: Record<string, string> = {
  web: WEB_HELP,
  main: `usage: hive COMMAND [options]

commands:
  up        run a hive in the foreground (the embedded default without --config)
  tree      show the live tree
  start     start a stopped or failed node
  stop      stop a node (its children move up, or are held)
  restart   restart a node
  load      add a plugin at runtime
  unload    remove a plugin at runtime
  reload    apply the edited config to the running hive (or plan it: --dry-run)
  tap       show every message flowing in the tree
  logs      show a node's recent log lines
  web       a live view of the tree in a browser, and /metrics (behind a token)
  remote    what a remote node is started with: its socket and credential
  down      stop a running hive
  new       start a plugin: a responder, its manifest, a dev config and a test (ts, python, shell)
  dev       run a development hive for one plugin, restarting it when its files change

Run \`hive COMMAND --help\` for a command's options.
exit codes: 0 ok, 1 error, 2 bad usage or config, 3 no running hive, 4 refused by the supervisor
`,
  up: `usage: hive up [--config FILE]

Runs a hive in the foreground: the bus (private unless configured), the mouth and the plugins.
Without --config it runs the embedded default: a private bus, the terminal network (type to
the bot; end input with Ctrl-D) and the ping, echo and help plugins.
Ctrl-C (or SIGTERM) stops the plugins, the mouth and the bus, in that order; a second one forces
(everything is killed; exit 130 for SIGINT, 143 for SIGTERM).
The hive token is new at every start, unless HIVE_TOKEN_FILE names a file (mode 600) to keep it
in: made when missing, read otherwise. Remote nodes need that to survive a restart (docs/deploy.md).

  -c, --config FILE     the hive's YAML config (docs/config.md)
`,
  tree: `usage: hive tree [--json] [--config FILE | --instance NAME]

Every node with its kind, state (starting, running, restarting, held, failed, stopped;
misplaced: running but not attached where it should be), pid ("remote" for a node that runs
elsewhere), trust (direct: on the bus; filtered: through its own proxy; sandboxed: filtered and
under bwrap), restarts, uptime and counters, indented under its current parent; below the table,
why each failed node failed.

      --json            {"nodes":[{"name","kind","pid","trust","parent","state","restarts","misplaced","error",…}]}
${FIND}`,
  start: `usage: hive start NODE [--config FILE | --instance NAME]\n\nStarts a stopped or failed node (its restart count starts again).\n${REMOTE}\n${FIND}`,
  stop: `usage: hive stop NODE [--config FILE | --instance NAME]\n\nStops a node and keeps it stopped; its children move to the nearest live ancestor,\nor wait if the node is on_death: hold.\n${REMOTE}\n${FIND}`,
  restart: `usage: hive restart NODE [--config FILE | --instance NAME]\n\nStops a node and starts it again.\n${REMOTE}\n${FIND}`,
  load: `usage: hive load FILE.yaml | - | --name NAME (--use PLUGIN | --exec "CMD ARGS") | --dir DIR | --package NPM_NAME
                 [--name NAME] [--parent NODE] [--on-death hold|bypass] [--plugin-config JSON]

Adds a plugin to the running tree, from a YAML plugin spec as in the config's plugins list
(a file, or - for stdin) or from flags. --dir names a plugin folder with a manifest
(hive-plugin.yaml), --package an npm package holding one (found from here); the node is named
by the manifest unless --name says otherwise (docs/config.md#plugins). A relative dir: in a
spec file is taken from the file's folder.

      --json            print {"name": …}
${FIND}`,
  unload: `usage: hive unload NODE [--config FILE | --instance NAME]\n\nStops a plugin and removes it from the tree; its children move to its parent.\n\n${FIND}`,
  tap: `usage: hive tap [--json] [--count N] [--config FILE | --instance NAME]

Prints every message flowing in the tree, decoded: down (Message signals) and up (Send calls).

      --json            one JSON object per message: {time, direction, from, to, lines, meta}
      --count N         stop after N messages
${FIND}`,
  reload: `usage: hive reload [--config FILE | --instance NAME] [--dry-run] [--json]

Reads the config file again (FILE, else the hive's own: the one it was started with, or the last
FILE a reload applied), checks it fully, and applies the difference to the running hive; SIGHUP
to \`hive up\` does the same. \${NAME} secrets are filled by the hive from \`hive up\`'s
environment at its start, not from this shell's. Plugins added are loaded, removed ones
unloaded; a plugin whose use/exec/config/… changed restarts alone; one whose parent changed
moves (no restart, unless it runs behind its proxy); a changed restart policy is taken without a
restart. Networks are added and removed without touching the others; a network's channels are
joined and parted without reconnecting; any other change to a network reconnects that network
alone (its old connection stays if the new one cannot be made). A change the mouth could not
make is tried again at the next reload. A config with a problem, or a change that cannot be made
while the hive runs (instance, bus, state_dir, log_level, command_prefix, a terminal network),
changes nothing: exit 2, each key named.

      --dry-run         print the plan, change nothing
      --json            {"file","plan":{"steps":[…],"refused":[…]},"applied","errors":[…],"networks":[…]}
${FIND}`,
  logs: `usage: hive logs NODE [--json] [-n N] [--config FILE | --instance NAME]

The node's most recent log lines, oldest first: its own (what it wrote on stdout and stderr) and
the supervisor's about it (started, died, restarted, moved), as \`hive up\` logged them (its
log_level applies). The supervisor keeps the last 200 per node, each up to 2 KB. Operator only.

  -n, --lines N         the last N lines only
      --json            the lines as logged: one JSON object per line
${FIND}`,
  remote: `usage: hive remote NODE [--json] [--config FILE | --instance NAME]

What the operator of a remote node (remote: true) starts it with (docs/deploy.md): the socket to
forward to its host (its own filtering proxy's, in the runtime dir; the bus's only for trust:
direct) and its credential (its HIVE_TOKEN). Keep the output secret. Operator only.

      --json            {"node","socket","address","credential","instance","parent"}
${FIND}`,
  new: `usage: hive new NAME --lang ts|python|shell [--dir DIR] [--json]

Writes a plugin to start from into DIR (default ./NAME; it must not exist, or be empty): a
responder answering !NAME (\`!NAME world\` → \`hello, world\`), its manifest hive-plugin.yaml (the
folder is a plugin a config loads with \`dir:\`), a hive.yaml for a development hive, and a test
that passes, written with Hive's test harness (TypeScript: hive/testing with node:test, \`npm
test\`; Python and shell: hive_testing with unittest, \`python3 -m unittest\`). A TypeScript
plugin gets node_modules/hive, typescript and @types/node linked from this Hive.

      --lang LANG       ts (TypeScript), python or shell (bash with gdbus)
      --dir DIR         where to write it
      --json            print {"name","lang","dir","files","next"}
`,
  dev: `usage: hive dev PATH [--plugin-config JSON] [--instance NAME]

Runs a development hive for one plugin: a private bus, the terminal network (type to the bot, as
\`you\` in #console), \`help\`, and the plugin at PATH: a folder with a manifest (what \`hive new\`
makes), or one file (.py, .sh, .js, .ts, or any executable). When its files change, the plugin
alone is restarted, after compiling it for TypeScript (its own tsc, else Hive's; a failed build
is shown and the plugin keeps running). Shows the bot's answers (<hive> …), the plugin's log
lines, the supervisor's about it, anyone's warnings, and every message that flows in the tree
(↓ down to the plugins, ↑ up from them, as \`hive tap\` sees them). Ctrl-C stops the hive and
removes what it made: no process, socket, runtime file or temporary folder is left. The other
\`hive\` commands reach it with --instance dev_NAME.

      --plugin-config JSON   the plugin's config: (the folder's schema checks it)
  -i, --instance NAME        the dev hive's instance (default dev_NAME)
`,
  down: `usage: hive down [--config FILE | --instance NAME]\n\nStops a running hive and waits until it is gone.\n\n      --json            print {"stopped": true}\n${FIND}`,
};

const COMMON = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  config: { type: 'string', short: 'c' },
  instance: { type: 'string', short: 'i' },
} as const;

/**
 * A reader that went away (`hive tree --json | head -1`) is not an error: the command ends
 * quietly with the code it has so far (0 unless set). `hive up` keeps running instead: its tree
 * must not fall because nobody reads its log any more.
 */
function quietOnClosedPipe(command: string): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
      if (command !== 'up') process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT_CODES.ok);
    });
  }
}

function print(json: boolean | undefined, obj: unknown, text: string): void {
  process.stdout.write(json ? JSON.stringify(obj) + '\n' : text);
}

/**
 * The spec `hive load` sends. A plugin folder or package is found here, where the operator is:
 * --dir/--package (or a spec file's dir:/package:) become an absolute dir: (plugin-manifest.ts).
 */
async function loadSourceSpec(a: { file?: string; name?: string; use?: string; exec?: string; dir?: string; package?: string; parent?: string; on_death?: string; config?: string }): Promise<string> {
  const [{ stringify: toYaml }, { loadSpec }, { parseBoundedYaml }, { PluginSourceError, localizeSpec }] = await Promise.all([
    import('yaml'), import('./cli-client.js'), import('./yaml-bounds.js'), import('./plugin-manifest.js'),
  ]);
  const localized = (spec: Record<string, unknown>, base: string): Record<string, unknown> => {
    try { return localizeSpec(spec, base); } catch (err) {
      if (err instanceof PluginSourceError) throw new CliError(`hive load: ${err.message}`, EXIT_CODES.usage);
      throw err;
    }
  };
  if (a.dir !== undefined || a.package !== undefined) {
    if (a.file || a.use || a.exec) throw new CliError('hive load: --dir or --package names the plugin; give no spec file, --use or --exec with it', EXIT_CODES.usage);
    if (a.dir !== undefined && a.package !== undefined) throw new CliError('hive load: --dir or --package, not both', EXIT_CODES.usage);
    const spec: Record<string, unknown> = a.dir !== undefined ? { dir: a.dir } : { package: a.package };
    if (a.name) spec.name = a.name;
    if (a.parent) spec.parent = a.parent;
    if (a.on_death) spec.on_death = a.on_death;
    if (a.config) {
      try { spec.config = JSON.parse(a.config); } catch { throw new CliError(`hive load: --plugin-config must be JSON; got ${JSON.stringify(a.config.slice(0, 60))}`, EXIT_CODES.usage); }
    }
    return toYaml(localized(spec, process.cwd()));
  }
  const text = await loadSpec(a);
  // A spec file's relative dir: is the file's; stdin's and the flags' are the current folder's.
  const parsed = parseBoundedYaml(text, 'the plugin spec');
  if ('problems' in parsed || !parsed.value || typeof parsed.value !== 'object' || Array.isArray(parsed.value)) return text; // the supervisor says what is wrong
  const spec = parsed.value as Record<string, unknown>;
  if (spec.dir === undefined && spec.package === undefined) return text;
  return toYaml(localized(spec, a.file && a.file !== '-' ? dirname(resolve(a.file)) : process.cwd()));
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  quietOnClosedPipe(command ?? '');
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP.main!);
    return command ? EXIT_CODES.ok : EXIT_CODES.usage;
  }
  if (!HELP[command] || command === 'main') {
    process.stderr.write(`hive: unknown command '${command}'\n\n${HELP.main}`);
    return EXIT_CODES.usage;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        ...COMMON,
        count: { type: 'string' },
        lines: { type: 'string', short: 'n' },
        'dry-run': { type: 'boolean' },
        listen: { type: 'string' },
        name: { type: 'string' },
        use: { type: 'string' },
        exec: { type: 'string' },
        parent: { type: 'string' },
        'on-death': { type: 'string' },
        'plugin-config': { type: 'string' },
        lang: { type: 'string' },
        dir: { type: 'string' },
        package: { type: 'string' },
      },
    });
  } catch (err) {
    process.stderr.write(`hive ${command}: ${(err as Error).message}\n\n${HELP[command]}`);
    return EXIT_CODES.usage;
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    process.stdout.write(HELP[command]!);
    return EXIT_CODES.ok;
  }
  try {
    if (command === 'up') {
      // The config is checked in a process of its own (config-checker.ts) while this one loads the supervisor.
      const { checkUpConfig } = await import('./config-checker.js');
      const checked = checkUpConfig(v.config);
      checked.catch(() => undefined); // up() awaits it and says what failed
      const { up } = await import('./cli-up.js');
      return await up({ config: v.config, checked });
    }
    if (command === 'new') {
      const { newPlugin, renderNew } = await import('./cli-new.js');
      const r = await newPlugin({ name: positionals[0], lang: v.lang, dir: v.dir });
      print(v.json, r, renderNew(r));
      return EXIT_CODES.ok;
    }
    if (command === 'dev') {
      if (!positionals[0]) throw new CliError(`which plugin? (a folder made by \`hive new\`, or a file)\n\n${HELP.dev}`, EXIT_CODES.usage);
      const { dev } = await import('./cli-dev.js');
      const code = await dev({ path: positionals[0], pluginConfig: v['plugin-config'], instance: v.instance });
      // Like `hive up`: the terminal's stdin and the tap's bus connection must not keep it running.
      process.exit(code);
    }
    const { fetchTree, findHive, renderTree, withSupervisor } = await import('./cli-client.js');
    const info = await findHive({ config: v.config, instance: v.instance });
    const node = positionals[0];
    const needNode = () => {
      if (!node) throw new CliError(`hive ${command}: which node?\n\n${HELP[command]}`, EXIT_CODES.usage);
      return node;
    };
    switch (command) {
      case 'tree': {
        const tree = await fetchTree(info);
        print(v.json, tree, renderTree(tree));
        return EXIT_CODES.ok;
      }
      case 'start': case 'stop': case 'restart': case 'unload': {
        const n = needNode();
        const member = command === 'unload' ? 'Unload' : command[0]!.toUpperCase() + command.slice(1);
        await withSupervisor(info, (call) => call(member, 's', [n]));
        print(v.json, { node: n, done: command }, `${command}: ${n}\n`);
        return EXIT_CODES.ok;
      }
      case 'load': {
        const spec = await loadSourceSpec({ file: node, name: v.name, use: v.use, exec: v.exec, dir: v.dir, package: v.package, parent: v.parent, on_death: v['on-death'], config: v['plugin-config'] });
        const [name] = await withSupervisor(info, (call) => call('Load', 's', [spec]));
        print(v.json, { name }, `loaded: ${String(name)}\n`);
        return EXIT_CODES.ok;
      }
      case 'remote': {
        const n = needNode();
        const [address, credential] = await withSupervisor(info, (call) => call('RemoteAccess', 's', [n])) as [string, string];
        const socket = /^unix:path=([^,;]+)/.exec(address)?.[1] ?? address;
        const configured = (await fetchTree(info)).nodes.find((x) => x.name === n)?.configured_parent ?? 'mouth';
        const parent = `org.hive.${info.instance}.${configured}`;
        const out = { node: n, socket, address, credential, instance: info.instance, parent };
        print(v.json, out, `socket:     ${socket}\ncredential: ${credential}\n\nOn the node's host, with that socket forwarded to SOCK (docs/deploy.md):\n  HIVE_BUS_ADDRESS=unix:path=SOCK HIVE_INSTANCE=${info.instance} HIVE_NODE=${n} HIVE_PARENT=${parent} HIVE_TOKEN=${credential} HIVE_VOUCH=1 PROGRAM\n`);
        return EXIT_CODES.ok;
      }
      case 'reload': {
        // The file is checked here first, so that its problems come with their lines (exit 2).
        // Its ${ENV} secrets are not: the supervisor fills them from its own environment (hive up's,
        // e.g. the unit's Environment=), which this shell need not have; it checks them itself.
        const file = v.config ? resolve(v.config) : '';
        if (file) (await import('./read-config.js')).precheckConfig(file);
        let out: string;
        try {
          [out] = await withSupervisor(info, (call) => call('Reload', 'sb', [file, !!v['dry-run']], 60_000)) as [string];
        } catch (err) {
          // Refused as a config the running hive cannot take: a config problem (exit 2), as for `hive up`.
          if (err instanceof CliError && err.message.startsWith('invalid config')) throw new CliError(err.message, EXIT_CODES.usage);
          throw err;
        }
        const result = JSON.parse(out) as ReloadResult;
        const head = v['dry-run'] ? `dry run: nothing changed (${result.file})\n` : `reloaded ${result.file}\n`;
        const errors = result.errors.map((e) => `error: ${e}\n`).join('');
        // What the mouth did, where it is not what the plan said (a network that cannot change its channels live reconnected).
        const mouth = (result.networks ?? []).filter((n) => n.did === 'restarted' && result.plan.steps.some((s) => s.do === 'network' && s.change.network === n.network && s.change.do === 'channels'))
          .map((n) => `network  ${n.network}: reconnected instead (it cannot change its channels live)\n`).join('')
          // What the mouth did that this reload did not plan: a change an earlier reload could not make.
          + (result.networks ?? []).filter((n) => !result.plan.steps.some((s) => s.do === 'network' && s.change.network === n.network))
            .map((n) => `network  ${n.network}: ${n.did} (left undone by an earlier reload)\n`).join('');
        const { renderPlan } = await import('./reload-plan.js');
        print(v.json, result, head + renderPlan(result.plan) + mouth + errors);
        if (result.plan.refused.length) return EXIT_CODES.usage;
        return result.errors.length ? EXIT_CODES.error : EXIT_CODES.ok;
      }
      case 'logs': {
        const n = needNode();
        const max = v.lines === undefined ? 0 : Number(v.lines);
        if (v.lines !== undefined && (!Number.isInteger(max) || max < 1 || max > 0xffffffff)) throw new CliError(`hive logs: -n wants a whole number of lines, at least 1; got ${JSON.stringify(v.lines)}`, EXIT_CODES.usage);
        const [lines] = await withSupervisor(info, (call) => call('Logs', 'su', [n, max])) as [string[]];
        const { formatLogLine } = await import('./node-logs.js');
        process.stdout.write(lines.map((l) => (v.json ? l : formatLogLine(l)) + '\n').join(''));
        return EXIT_CODES.ok;
      }
      case 'web': {
        const { web } = await import('./cli-web.js');
        // Like `hive up`: the server and the supervisor's bus connection must not keep it running after it ends.
        process.exit(await web(info, { listen: v.listen, json: !!v.json }));
      }
      case 'tap': {
        const { tap } = await import('./cli-tap.js');
        await tap(info, { json: !!v.json, count: v.count ? Number(v.count) : undefined });
        return EXIT_CODES.ok;
      }
      case 'down': {
        await withSupervisor(info, (call) => call('Shutdown'));
        const deadline = Date.now() + 60_000;
        for (;;) {
          try { process.kill(info.pid, 0); } catch { break; }
          if (Date.now() > deadline) throw new CliError(`hive '${info.instance}' did not stop within 60 s (pid ${info.pid})`, EXIT_CODES.error);
          await new Promise((r) => setTimeout(r, 50));
        }
        print(v.json, { stopped: true }, `hive '${info.instance}' stopped\n`);
        return EXIT_CODES.ok;
      }
    }
    return EXIT_CODES.usage;
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`hive ${command}: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return EXIT_CODES.usage;
    }
    process.stderr.write(`hive ${command}: ${(err as Error).message ?? String(err)}\n`);
    return EXIT_CODES.error;
  }
}
