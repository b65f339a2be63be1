import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  ConfigError,
  IRC_FLOOD_DEFAULTS,
  YAML_LIMITS,
  checkPluginSpec,
  parseBoundedYaml,
  defaultConfig,
  defaultStateDir,
  hiveConfigSchema,
  loadConfig,
  parseConfig,
  redactSecrets,
  treeOrder,
  type HiveConfig,
  type IrcNetworkConfig,
} from './config.js';
import { SANDBOX_ON_SESSION_BUS } from './config-checks.js';

const dir = mkdtempSync(join(tmpdir(), 'hive-config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function writeYaml(text: string): string {
  const file = join(dir, `hive${fileNo++}.yaml`);
  writeFileSync(file, text);
  return file;
}

const env = { HOME: '/home/tester' };
const console_ = { console: { type: 'terminal' } };

/** The ConfigError thrown by fn (fails the test if none). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

function problemsOf(obj: unknown, extraEnv: Record<string, string> = {}): string[] {
  return configError(() => parseConfig(obj, { baseDir: dir, env: { ...env, ...extraEnv } })).message.split('\n');
}

const EXAMPLE = `
instance: mybot
bus: session
state_dir: ./state
log_level: info
command_prefix: "!"
networks:
  local: { type: irc, host: 127.0.0.1, port: 6667, tls: false, nick: hive, channels: ["#hive"] }
  console: { type: terminal }
plugins:
  - name: auth
    use: auth
    on_death: hold
  - name: ping
    use: ping
    parent: auth
  - name: weather
    exec: [python3, ./my-plugins/weather.py]
    restart: { max: 5, within: 60s }
    config: { city: Oslo }
  - name: far
    remote: true
`;

describe('loading a valid config', () => {
  test('the documented example loads with defaults applied', () => {
    const file = writeYaml(EXAMPLE);
    const { config, secretPaths } = loadConfig(file, env);
    expect(config.instance).toBe('mybot');
    expect(config.bus).toBe('session');
    expect(config.state_dir).toBe(join(dir, 'state'));
    expect(config.log_level).toBe('info');
    expect(config.plugins.map((p) => [p.name, p.parent, p.on_death])).toEqual([
      ['auth', 'mouth', 'hold'],
      ['ping', 'auth', 'bypass'],
      ['weather', 'mouth', 'bypass'],
      ['far', 'mouth', 'bypass'],
    ]);
    expect(config.plugins[2]).toMatchObject({ exec: ['python3', './my-plugins/weather.py'], restart: { max: 5, within: 60_000 }, config: { city: 'Oslo' } });
    expect(config.plugins[1]?.restart).toEqual({ max: 5, within: 60_000 });
    expect(secretPaths.size).toBe(0);
  });

  test('state_dir and exec working directories are resolved against the config file directory', () => {
    const { config } = loadConfig(writeYaml(EXAMPLE), env);
    expect(config.state_dir).toBe(join(dir, 'state'));
    expect(config.plugins.find((p) => p.name === 'weather')?.cwd).toBe(dir);
    expect(config.plugins.find((p) => p.name === 'ping')?.cwd).toBeUndefined();
  });

  test('irc networks get their defaults and channels one shape', () => {
    const { config } = parseConfig(
      { networks: { net: { type: 'irc', host: 'irc.example', nick: 'hive', channels: ['#a', { name: '#b', key: 'k' }] } } },
      { env },
    );
    const net = config.networks.net as IrcNetworkConfig;
    expect(net).toMatchObject({
      port: 6667,
      tls: false,
      tls_verify: true,
      alt_nicks: [],
      channels: [{ name: '#a' }, { name: '#b', key: 'k' }],
      flood: IRC_FLOOD_DEFAULTS,
      queue_max: 500,
      reconnect: { min_delay: 1_000, max_delay: 120_000, stable_after: 60_000 },
      rejoin_delay: 5_000,
    });
  });

  test('the irc port defaults to 6697 with tls', () => {
    const { config } = parseConfig({ networks: { n: { type: 'irc', host: 'h', nick: 'x', tls: true } } }, { env });
    expect((config.networks.n as IrcNetworkConfig).port).toBe(6697);
  });

  test("an xmpp network's ca_file is the config folder's, as an irc network's", () => {
    const { config } = parseConfig(
      { networks: { jabber: { type: 'xmpp', jid: 'hive@example.org', password: 'pw', ca_file: 'certs/ca.pem' }, other: { type: 'xmpp', jid: 'b@example.org', password: 'pw', ca_file: '/etc/ca.pem' } } },
      { baseDir: '/srv/hive', env },
    );
    expect(config.networks.jabber).toMatchObject({ type: 'xmpp', ca_file: '/srv/hive/certs/ca.pem' });
    expect(config.networks.other).toMatchObject({ ca_file: '/etc/ca.pem' });
  });

  test('all irc options are accepted, durations become ms and paths become absolute', () => {
    const { config } = parseConfig(
      {
        networks: {
          libera: {
            type: 'irc',
            host: 'irc.libera.chat',
            port: 6697,
            tls: true,
            tls_verify: false,
            ca_file: 'certs/ca.pem',
            client_cert: '/etc/hive/cert.pem',
            client_key: 'key.pem',
            password: 'pw',
            nick: 'hive',
            alt_nicks: ['hive_', 'hive[2]'],
            username: 'hive',
            realname: 'Hive bot',
            sasl: { mechanism: 'EXTERNAL' },
            channels: ['#hive'],
            allow_commands: ['privmsg', 'NOTICE'],
            flood: { burst: 10, rate: 0 },
            queue_max: 100,
            reconnect: { min_delay: '500ms', max_delay: '5m', stable_after: '1m30s' },
            rejoin_delay: '10s',
            ping_timeout: '2m',
          },
        },
      },
      { baseDir: '/srv/hive', env },
    );
    expect(config.networks.libera).toMatchObject({
      ca_file: '/srv/hive/certs/ca.pem',
      client_cert: '/etc/hive/cert.pem',
      client_key: '/srv/hive/key.pem',
      allow_commands: ['PRIVMSG', 'NOTICE'],
      flood: { burst: 10, rate: IRC_FLOOD_DEFAULTS.rate },
      reconnect: { min_delay: 500, max_delay: 300_000, stable_after: 90_000 },
      rejoin_delay: 10_000,
      ping_timeout: 120_000,
    });
  });

  test('terminal networks get their defaults', () => {
    const { config } = parseConfig({ networks: console_ }, { env });
    expect(config.networks.console).toEqual({ type: 'terminal', channel: '#console', user: 'you', nick: 'hive', quiet_ms: 300 });
  });

  test('top-level defaults: instance default, private bus, prefix !, no plugins', () => {
    const { config } = parseConfig({ networks: console_ }, { env });
    expect(config).toMatchObject({ instance: 'default', bus: 'private', command_prefix: '!', plugins: [] });
  });

  test('without state_dir the state goes to the XDG state directory of the instance', () => {
    expect(parseConfig({ instance: 'bot', networks: console_ }, { env: { XDG_STATE_HOME: '/xdg' } }).config.state_dir).toBe('/xdg/hive/bot');
    expect(parseConfig({ networks: console_ }, { env: { HOME: '/home/u' } }).config.state_dir).toBe('/home/u/.local/state/hive/default');
    expect(defaultStateDir('x', { XDG_STATE_HOME: 'relative', HOME: '/h' })).toBe('/h/.local/state/hive/x');
  });

  test('a D-Bus address is accepted as bus', () => {
    expect(parseConfig({ bus: 'unix:path=/run/x', networks: console_ }, { env }).config.bus).toBe('unix:path=/run/x');
  });

  test('a remote node may be a parent', () => {
    const { config } = parseConfig(
      { networks: console_, plugins: [{ name: 'far', remote: true }, { name: 'near', use: 'ping', parent: 'far' }] },
      { env },
    );
    expect(config.plugins[1]?.parent).toBe('far');
  });

  test('the exported schema parses a config on its own', () => {
    expect(hiveConfigSchema.parse({ networks: console_ }).instance).toBe('default');
  });
});

describe('secrets from the environment', () => {
  const withSecret = {
    networks: {
      libera: {
        type: 'irc',
        host: 'irc.libera.chat',
        nick: 'hive',
        sasl: { mechanism: 'PLAIN', account: 'hive', password: '${SASL_PASS}' },
        password: '${SERVER_PASS}',
      },
    },
    plugins: [{ name: 'w', exec: ['weather', '${API_TOKEN}'], config: { key: '${API_TOKEN}' } }],
  };
  const secretEnv = { SASL_PASS: 'correct horse', SERVER_PASS: 'hunter2hunter2', API_TOKEN: 'tok-12345' };

  test('${NAME} is replaced by the environment variable and its key path is reported', () => {
    const { config, secretPaths } = parseConfig(withSecret, { env: { ...env, ...secretEnv } });
    const net = config.networks.libera as IrcNetworkConfig;
    expect(net.sasl?.password).toBe('correct horse');
    expect(net.password).toBe('hunter2hunter2');
    expect(config.plugins[0]?.exec).toEqual(['weather', 'tok-12345']);
    expect([...secretPaths].sort()).toEqual([
      'networks.libera.password',
      'networks.libera.sasl.password',
      'plugins[0].config.key',
      'plugins[0].exec[1]',
    ]);
  });

  test('a missing variable is an error naming the key and the variable', () => {
    const lines = problemsOf(withSecret, { SASL_PASS: 'x', SERVER_PASS: 'y' });
    expect(lines).toContain('`plugins[0].exec[1]`: environment variable API_TOKEN is not set');
    expect(lines).toContain('`plugins[0].config.key`: environment variable API_TOKEN is not set');
    expect(lines).toHaveLength(2);
  });

  test('a secret never appears in an error message', () => {
    const err = configError(() =>
      parseConfig(
        {
          networks: {
            n: { type: 'irc', host: 'h', nick: 'x', port: '${PORT}', tls: '${TLS}', sasl: { mechanism: '${MECH}' }, channels: ['${CHAN}'] },
          },
          plugins: [{ name: '${PLUGIN_NAME}', use: 'echo', parent: '${PARENT}' }],
        },
        { env: { PORT: 'port-secret-1', TLS: 'tls-secret-2', MECH: 'mech-secret-3', CHAN: 'chan-secret-4', PLUGIN_NAME: 'name-secret-5', PARENT: 'parent-secret-6' } },
      ),
    );
    expect(err.message).not.toMatch(/secret-\d/);
    expect(JSON.stringify(err.problems)).not.toMatch(/secret-\d/);
    expect(err.message).toContain('`networks.n.port`: expected a number, got the value of ${PORT} (hidden)');
    expect(err.message).toContain('`plugins[0].parent`: the value of ${PARENT} (hidden) is not a node');
  });

  test('a secret in a YAML file never appears in the error either', () => {
    const file = writeYaml('networks:\n  n: { type: irc, host: h, nick: x, port: "${PORT}" }\n');
    const err = configError(() => loadConfig(file, { PORT: 'very-secret-port' }));
    expect(err.message).not.toContain('very-secret-port');
    expect(err.message).toContain('${PORT}');
  });

  test('$${NAME} is the literal text ${NAME} and not a secret', () => {
    const { config, secretPaths } = parseConfig({ networks: { n: { type: 'irc', host: 'h', nick: 'x', password: '$${NOT_ENV}' } } }, { env });
    expect((config.networks.n as IrcNetworkConfig).password).toBe('${NOT_ENV}');
    expect(secretPaths.size).toBe(0);
  });

  test('only a whole value is a reference; text around ${…} stays as written', () => {
    const { config } = parseConfig({ networks: { n: { type: 'irc', host: 'h', nick: 'x', realname: 'I am ${USER}' } } }, { env: { USER: 'u' } });
    expect((config.networks.n as IrcNetworkConfig).realname).toBe('I am ${USER}');
  });

  test('redactSecrets hides exactly the secret paths for logging', () => {
    const { config, secretPaths } = parseConfig(withSecret, { env: { ...env, ...secretEnv } });
    const shown = redactSecrets(config, secretPaths);
    expect(JSON.stringify(shown)).not.toMatch(/correct horse|hunter2|tok-12345/);
    expect((shown.networks.libera as IrcNetworkConfig).sasl).toEqual({ mechanism: 'PLAIN', account: 'hive', password: '[secret]', retry: 60_000 });
    expect(shown.plugins[0]?.exec).toEqual(['weather', '[secret]']);
    expect((config.networks.libera as IrcNetworkConfig).password).toBe('hunter2hunter2'); // original untouched
  });
});

describe('config errors', () => {
  test('a wrong type is named with its key path and the value it got', () => {
    const lines = problemsOf({ networks: console_, plugins: [{ name: 'a', use: 'echo' }, { name: 'b', use: 'echo' }, { name: 'c', use: 'echo', restart: { max: 'x' } }] });
    expect(lines).toEqual(["`plugins[2].restart.max`: expected a number, got string 'x'"]);
  });

  test('an unknown key is named with its full path', () => {
    const lines = problemsOf({ networks: { local: { type: 'irc', host: 'h', nick: 'n', chanels: [] } }, plugins: [{ name: 'p', use: 'echo', on_deth: 'hold' }] });
    expect(lines).toContain("`networks.local.chanels`: unknown key 'chanels'");
    expect(lines).toContain("`plugins[0].on_deth`: unknown key 'on_deth'");
  });

  test('unknown top-level keys are errors too', () => {
    expect(problemsOf({ networks: console_, plugin: [] })).toEqual(["`plugin`: unknown key 'plugin'"]);
  });

  test('every problem is listed, one per line', () => {
    const lines = problemsOf({
      instance: 'my-bot',
      bus: 'nowhere',
      networks: { n: { type: 'irc', host: 'h', nick: '1nick', port: 70000 } },
      plugins: [{ name: 'p', use: 'echo', on_death: 'sometimes', restart: { within: 'soon' } }],
    });
    expect(lines).toEqual([
      "`instance`: expected a name of letters, digits and _, starting with a letter, at most 64 characters, got string 'my-bot'",
      "`bus`: expected 'session', 'private' or a D-Bus address like unix:path=/run/hive/bus, got string 'nowhere'",
      '`networks.n.port`: expected at most 65535, got number 70000',
      "`networks.n.nick`: expected an IRC nick (letters, digits and []\\`_^{|}-, not starting with a digit or -), got string '1nick'",
      "`plugins[0].on_death`: expected one of 'hold', 'bypass', got string 'sometimes'",
      "`plugins[0].restart.within`: expected a duration like 30s, 5m or a number of ms, got string 'soon'",
    ]);
  });

  test('a missing required key says it is required', () => {
    expect(problemsOf({ networks: { n: { type: 'irc', host: 'h' } } })).toEqual(['`networks.n.nick`: is required (expected a string)']);
    expect(problemsOf({})).toEqual(['`networks`: is required (expected a mapping)']);
  });

  test('an unknown network type lists the known types', () => {
    expect(problemsOf({ networks: { n: { type: 'slack' } } })).toEqual(["`networks.n.type`: expected one of 'irc', 'terminal', 'script', 'xmpp', got string 'slack'"]);
    expect(problemsOf({ networks: { n: { host: 'h' } } })).toEqual(["`networks.n.type`: is required (expected one of 'irc', 'terminal', 'script', 'xmpp')"]);
  });

  test('a bad channel is explained for the form that was meant', () => {
    const lines = problemsOf({ networks: { n: { type: 'irc', host: 'h', nick: 'x', channels: ['hive', { name: '#a', kye: 'k' }, 5] } } });
    expect(lines).toEqual([
      "`networks.n.channels[0]`: expected a channel name like \"#hive\", got string 'hive'",
      "`networks.n.channels[1].kye`: unknown key 'kye'",
      '`networks.n.channels[2]`: expected a string or a mapping, got number 5',
    ]);
  });

  test('a network name unfit for D-Bus is refused with a bracketed path', () => {
    expect(problemsOf({ networks: { 'my-net': { type: 'terminal' } } })[0]).toMatch(/^`networks\["my-net"\]`: invalid key: expected a name/);
  });

  test('at least one network is required', () => {
    expect(problemsOf({ networks: {} })).toEqual(['`networks`: at least one network is required (e.g. console: { type: terminal })']);
  });

  test('none or more than one of use/exec/remote is refused', () => {
    const lines = problemsOf({
      networks: console_,
      plugins: [{ name: 'none' }, { name: 'two', use: 'echo', exec: ['y'] }, { name: 'three', use: 'echo', exec: ['y'], remote: true }, { name: 'ok', remote: true }],
    });
    expect(lines).toEqual([
      '`plugins[0]`: expected exactly one of use (a built-in plugin), exec (a program), dir (a plugin folder), package (an npm package) or remote: true; got none',
      '`plugins[1]`: expected exactly one of use (a built-in plugin), exec (a program), dir (a plugin folder), package (an npm package) or remote: true; got use and exec',
      '`plugins[2]`: expected exactly one of use (a built-in plugin), exec (a program), dir (a plugin folder), package (an npm package) or remote: true; got use and exec and remote',
    ]);
  });

  test('config, cwd and restart of a remote node are refused: the supervisor starts nothing for it', () => {
    const lines = problemsOf({ networks: console_, plugins: [{ name: 'far', remote: true, config: { a: 1 }, cwd: '/x', restart: { max: 1 } }] });
    expect(lines).toEqual([
      '`plugins[0].config`: has no effect on a remote node: it is started where it runs (docs/deploy.md), with its config in HIVE_CONFIG there',
      '`plugins[0].cwd`: has no effect on a remote node: it is started where it runs (docs/deploy.md)',
      '`plugins[0].restart`: has no effect on a remote node: it is started where it runs (docs/deploy.md)',
    ]);
  });

  test('a use: that is not a built-in plugin is named with the ones there are', () => {
    const lines = problemsOf({ networks: console_, plugins: [{ name: 'n', use: 'noets' }] });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^`plugins\[0\]\.use`: 'noets' is not a built-in plugin; they are: .*\bnotes\b/);
  });

  test('an unknown parent is named with the nodes that exist', () => {
    const lines = problemsOf({
      networks: console_,
      plugins: [{ name: 'auth', use: 'auth' }, { name: 'ping', use: 'ping' }, { name: 'x', use: 'echo', parent: 'foo' }],
    });
    expect(lines).toEqual(["`plugins[2].parent`: 'foo' is not a node; expected 'mouth' or one of: auth, ping"]);
  });

  test('a cycle in parents is refused naming the nodes', () => {
    const lines = problemsOf({
      networks: console_,
      plugins: [
        { name: 'ok', use: 'echo' },
        { name: 'a', use: 'echo', parent: 'c' },
        { name: 'b', use: 'echo', parent: 'a' },
        { name: 'c', use: 'echo', parent: 'b' },
        { name: 'tail', use: 'echo', parent: 'a' },
      ],
    });
    expect(lines).toEqual(["`plugins[1].parent`: parents form a cycle: a → c → b → a (every node must lead up to 'mouth')"]);
  });

  test('a node that is its own parent is a cycle', () => {
    expect(problemsOf({ networks: console_, plugins: [{ name: 'a', use: 'echo', parent: 'a' }] })).toEqual([
      "`plugins[0].parent`: parents form a cycle: a → a (every node must lead up to 'mouth')",
    ]);
  });

  test('two nodes with one name are refused', () => {
    const lines = problemsOf({ networks: console_, plugins: [{ name: 'p', use: 'echo' }, { name: 'q', use: 'echo' }, { name: 'p', use: 'echo' }] });
    expect(lines).toEqual(["`plugins[2].name`: 'p' is already the name of plugins[0]"]);
  });

  test('a plugin named mouth clashes with the root node', () => {
    expect(problemsOf({ networks: console_, plugins: [{ name: 'mouth', use: 'echo' }] })).toEqual([
      "`plugins[0].name`: 'mouth' is the name of the root node; choose another name",
    ]);
  });

  test('a plugin named Supervisor would take the supervisor bus name', () => {
    expect(problemsOf({ networks: console_, plugins: [{ name: 'Supervisor', use: 'echo' }] })[0]).toMatch(/^`plugins\[0\].name`: 'Supervisor' is reserved/);
  });

  test('cross-field problems are reported together with shape problems', () => {
    const lines = problemsOf({ networks: console_, plugins: [{ name: 'a', exec: 'not-a-list', parent: 'ghost' }] });
    expect(lines).toContain("`plugins[0].exec`: expected a list, got string 'not-a-list'");
    expect(lines).toContain("`plugins[0].parent`: 'ghost' is not a node; expected 'mouth'");
  });

  test('SASL settings that cannot work are refused', () => {
    expect(problemsOf({ networks: { n: { type: 'irc', host: 'h', nick: 'x', sasl: { mechanism: 'PLAIN' } } } })).toEqual([
      '`networks.n.sasl.account`: is required for SASL PLAIN',
      '`networks.n.sasl.password`: is required for SASL PLAIN',
    ]);
    expect(problemsOf({ networks: { n: { type: 'irc', host: 'h', nick: 'x', sasl: { mechanism: 'EXTERNAL' } } } })).toEqual([
      '`networks.n.tls`: must be true for SASL EXTERNAL (it authenticates by the TLS client certificate)',
      '`networks.n.client_cert`: is required for SASL EXTERNAL',
    ]);
  });

  test('reconnect.stable_after takes a duration and refuses anything else, naming the key', () => {
    expect(problemsOf({ networks: { n: { type: 'irc', host: 'h', nick: 'x', reconnect: { stable_after: 'soon' } } } })[0]).toMatch(/^`networks\.n\.reconnect\.stable_after`: /);
    expect(problemsOf({ networks: { n: { type: 'irc', host: 'h', nick: 'x', reconnect: { stable_after: -5 } } } })[0]).toMatch(/^`networks\.n\.reconnect\.stable_after`: /);
  });

  test('sasl.retry takes a duration, 1 minute by default', () => {
    const sasl = (retry?: unknown) => ({ networks: { n: { type: 'irc', host: 'h', nick: 'x', sasl: { mechanism: 'PLAIN', account: 'a', password: 'p', ...(retry === undefined ? {} : { retry }) } } } });
    expect((parseConfig(sasl(), { env }).config.networks.n as IrcNetworkConfig).sasl?.retry).toBe(60_000);
    expect((parseConfig(sasl('10s'), { env }).config.networks.n as IrcNetworkConfig).sasl?.retry).toBe(10_000);
    expect(problemsOf(sasl('often'))[0]).toMatch(/^`networks\.n\.sasl\.retry`: /);
  });

  test('reconnect delays must be in order', () => {
    expect(problemsOf({ networks: { n: { type: 'irc', host: 'h', nick: 'x', reconnect: { min_delay: '10m', max_delay: '1m' } } } })).toEqual([
      '`networks.n.reconnect.min_delay`: min_delay must not be greater than max_delay',
    ]);
  });

  test('ConfigError has exit code 2 and keeps the problems', () => {
    const err = configError(() => parseConfig({ networks: {} }, { env }));
    expect(err.exitCode).toBe(2);
    expect(err.name).toBe('ConfigError');
    expect(err.problems).toEqual([{ keyPath: ['networks'], message: expect.stringContaining('at least one network') }]);
  });
});

describe('loadConfig errors', () => {
  test('a YAML syntax error is reported as file:line:col', () => {
    const file = writeYaml('networks:\n  console: { type: terminal\nplugins: []\n');
    const err = configError(() => loadConfig(file, env));
    expect(err.message).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `));
  });

  test('a duplicate key in the YAML is a syntax error with its position', () => {
    const file = writeYaml('networks:\n  console: { type: terminal }\ninstance: a\ninstance: b\n');
    expect(configError(() => loadConfig(file, env)).message).toContain(`${file}:4:1: `);
  });

  test('problems are located in the file and listed in file order', () => {
    const file = writeYaml(['networks:', '  console: { type: terminal }', 'plugins:', '  - name: p', '    use: echo', '    restart: { max: x }', 'bus: nowhere', ''].join('\n'));
    const lines = configError(() => loadConfig(file, env)).message.split('\n');
    expect(lines[0]).toBe(`invalid config ${file}:`);
    expect(lines[1]).toBe(`\`plugins[0].restart.max\`: expected a number, got string 'x' (at ${file}:6:21)`);
    expect(lines[2]).toMatch(new RegExp(`^\`bus\`: .* \\(at .*:7:6\\)$`));
  });

  test('a missing file is a config error', () => {
    const err = configError(() => loadConfig(join(dir, 'nope.yaml'), env));
    expect(err.message).toContain('no such file');
    expect(err.exitCode).toBe(2);
  });

  test('an empty file says what is missing', () => {
    const err = configError(() => loadConfig(writeYaml(''), env));
    expect(err.message).toContain('`networks`: is required');
  });
});

describe('defaultConfig', () => {
  test('is a private bus, the terminal and the ping, echo and help plugins', () => {
    const config = defaultConfig({ XDG_STATE_HOME: '/xdg' });
    expect(config.bus).toBe('private');
    expect(config.networks).toEqual({ console: { type: 'terminal', channel: '#console', user: 'you', nick: 'hive', quiet_ms: 300 } });
    expect(config.plugins.map((p) => [p.name, p.use, p.parent])).toEqual([
      ['ping', 'ping', 'mouth'],
      ['echo', 'echo', 'mouth'],
      ['help', 'help', 'mouth'],
    ]);
    expect(config.state_dir).toBe('/xdg/hive/default');
  });
});

describe('treeOrder', () => {
  const specs = (pairs: [string, string][]): Pick<HiveConfig, 'plugins'> =>
    parseConfig({ networks: console_, plugins: pairs.map(([name, parent]) => ({ name, use: 'echo', parent })) }, { env }).config;

  test('puts every parent before its children', () => {
    const order = treeOrder(specs([['c', 'b'], ['b', 'a'], ['a', 'mouth'], ['d', 'mouth']])).map((p) => p.name);
    expect(order.indexOf('a')).toBeLessThan(order.indexOf('b'));
    expect(order.indexOf('b')).toBeLessThan(order.indexOf('c'));
    expect(order).toHaveLength(4);
  });

  test('keeps file order where the tree allows it', () => {
    expect(treeOrder(specs([['a', 'mouth'], ['b', 'a'], ['c', 'mouth']])).map((p) => p.name)).toEqual(['a', 'b', 'c']);
  });

  test('refuses a tree it cannot order instead of looping', () => {
    const broken = { plugins: [{ ...defaultConfig(env).plugins[0]!, parent: 'ghost' }] };
    expect(() => treeOrder(broken)).toThrow(/ping/);
  });
});

// Issue 14: a config (or a `hive load` spec) is read within bounds, and what is past them is a named problem.
describe('hostile YAML', () => {
  const expectProblem = (file: string, pattern: RegExp) => {
    try {
      loadConfig(file, env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).exitCode).toBe(2);
      expect((err as ConfigError).message).toMatch(pattern);
      return;
    }
    throw new Error('loaded a config that should have been refused');
  };

  test('a "billion laughs" document is refused, naming the key where the aliases blow up', () => {
    const lines = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (const [i, c] of [...'bcdefgh'].entries()) lines.push(`${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`);
    const file = writeYaml([...lines, 'networks:', '  console: { type: terminal }'].join('\n'));
    expectProblem(file, /`e\[0\]`: its aliases \(\*name\) expand to more than 1000 nodes \(a "billion laughs" document\).*\(at .*:5:/);
  });

  test('a few aliases are fine', () => {
    const file = writeYaml('common: &r { max: 3 }\nnetworks:\n  console: { type: terminal }\nplugins:\n  - { name: a, use: ping, restart: *r }\n');
    expectProblem(file, /`common`/); // an unknown top-level key, but read: the alias itself is no problem
  });

  test('a file over 1 MiB is refused before it is parsed', () => {
    const file = writeYaml(`networks:\n  console: { type: terminal }\n# ${'x'.repeat(YAML_LIMITS.maxBytes)}\n`);
    expectProblem(file, /more than 1048576 bytes/);
  });

  test('nesting deeper than the limit is refused with its key path; thousands of brackets do not crash', () => {
    let nested = 'x';
    for (let i = 0; i < YAML_LIMITS.maxDepth + 5; i++) nested = `[${nested}]`;
    expectProblem(writeYaml(`networks:\n  console: { type: terminal }\nplugins:\n  - { name: a, use: ping, config: { deep: ${nested} } }\n`), /`plugins\[0\]\.config\.deep(\[0\])+`: nested more than 64 levels deep/);
    expectProblem(writeYaml(`networks: ${'['.repeat(5000)}${']'.repeat(5000)}\n`), /invalid config/);
  });

  test('parseBoundedYaml returns problems instead of throwing, for a `hive load` spec too', () => {
    const r = parseBoundedYaml('a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n', 'the plugin spec');
    expect('problems' in r && r.problems[0]!.message).toMatch(/billion laughs/);
    const ok = parseBoundedYaml('name: a\nuse: ping\n', 'the plugin spec');
    expect('value' in ok && ok.value).toEqual({ name: 'a', use: 'ping' });
  });
});

describe('checkPluginSpec (one entry, for the config and for hive load)', () => {
  test('reserved names, remote with keys it would ignore, unknown built-ins, not exactly one source', () => {
    const messages = (p: Record<string, unknown>) => checkPluginSpec(p).map((x) => `${x.keyPath.join('.')}: ${x.message}`);
    expect(messages({ name: 'Supervisor', use: 'ping' })).toEqual([`name: 'Supervisor' is reserved (it is the supervisor's bus name); choose another name`]);
    expect(messages({ name: 'mouth', use: 'ping' })[0]).toMatch(/^name: 'mouth' is the name of the root node/);
    expect(messages({ name: 'far', remote: true, restart: { max: 1 } })).toEqual(['restart: has no effect on a remote node: it is started where it runs (docs/deploy.md)']);
    expect(messages({ name: 'a', use: 'nosuch' })[0]).toMatch(/^use: 'nosuch' is not a built-in plugin/);
    expect(messages({ name: 'a', use: 'ping', exec: ['x'] })[0]).toMatch(/got use and exec/);
    expect(messages({ name: 'a', use: 'ping' })).toEqual([]);
  });
});

describe('a sandbox on the session bus', () => {
  test('is refused by name: the session bus is reachable outside any sandbox', () => {
    const lines = problemsOf({ bus: 'session', networks: console_, plugins: [{ name: 'jail', exec: ['x'], sandbox: true }, { name: 'free', exec: ['y'] }] });
    expect(lines).toEqual([`\`plugins[0].sandbox\`: ${SANDBOX_ON_SESSION_BUS}`]);
    // The control: on the hive's own bus it is fine.
    expect(() => parseConfig({ bus: 'private', networks: console_, plugins: [{ name: 'jail', exec: ['x'], sandbox: true }] }, { baseDir: dir, env })).not.toThrow();
  });
});
