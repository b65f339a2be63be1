/**
 * The Python SDK (protocol/sdk/python/hive_node.py) serves org.hive.Node1 from XML it embeds:
 * that XML must say what protocol/org.hive.Node1.xml says, so that a change to the contract cannot
 * leave the Python side behind unnoticed. The members a node may leave out are named in
 * docs/protocol.md ("Optionally, children without a connection").
 */
import { routeOf } from '../../protocol/sdk/routes.js';
import { encode } from '../../protocol/codec.js';
import { execa } from 'execa';
import { PYTHON_SDK } from '../../tree-supervisor/node-process.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normaliseInterface } from '../../protocol/introspection.js';
import { NODE_INTERFACE } from '../../protocol/names.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OPTIONAL = ['Join', 'Renew', 'SendAs', 'Leave', 'MoveChild'];

function embeddedXml(python: string): string {
  const m = /^INTROSPECTION = """([\s\S]*?)"""/m.exec(python);
  if (!m) throw new Error('hive_node.py has no INTROSPECTION = """…""" block');
  return m[1]!;
}

function withoutMethods(normalised: string, names: string[]): string {
  let out = normalised;
  for (const n of names) out = out.replace(new RegExp(`<(method|signal) name="${n}">.*?</\\1>`), '');
  return out;
}

describe('the Python SDK against the committed interface', () => {
  it('embeds exactly org.hive.Node1.xml, less the optional members for children without a connection (Join, Renew, SendAs, Leave, MoveChild)', async () => {
    const committed = normaliseInterface(await readFile(join(ROOT, 'protocol/org.hive.Node1.xml'), 'utf8'), NODE_INTERFACE);
    const python = normaliseInterface(embeddedXml(await readFile(join(ROOT, 'protocol/sdk/python/hive_node.py'), 'utf8')), NODE_INTERFACE);
    expect(committed).toContain('<method name="Join">');
    expect(python).not.toBe('');
    expect(python).toBe(withoutMethods(committed, OPTIONAL));
  });

  it('is importable from protocol/sdk/python (where the supervisor points PYTHONPATH) and names the interface it speaks', async () => {
    const r = await execa('/usr/bin/python3', ['-c', 'import hive_node; print(hive_node.PROTOCOL, hive_node.PROTOCOL_REVISION)'], { env: { PYTHONPATH: PYTHON_SDK }, reject: false });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${NODE_INTERFACE} 2`);
  });

  it('does not load PyGObject (dbus_next\'s GLib flavour, ~3.7 MB a process), and leaves it importable for a plugin', async () => {
    const script = "import sys, hive_node\nprint('gi' in sys.modules, 'gi.repository' in sys.modules)\nfrom gi.repository import GLib\nprint(GLib.MAJOR_VERSION >= 2)";
    const r = await execa('/usr/bin/python3', ['-c', script], { env: { PYTHONPATH: PYTHON_SDK }, reject: false });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['False False', 'True']);
  });

  it('works out the same route as the TypeScript SDK, for ordinary and odd lines', async () => {
    const lines = [
      ':bob!b@h PRIVMSG #c :!Ping now', ':bob!b@h PRIVMSG #c :hive:   echo hi', ':bob!b@h PRIVMSG hive :notes', ':bob!b@h PRIVMSG #c :talk',
      ':bob!b@h PRIVMSG #c :!ping\x1fx y', ':bob!b@h PRIVMSG #c :!ping\u00a0x', ':bob!b@h PRIVMSG #c :!ping\x85x', ':bob!b@h PRIVMSG #c :\u3000!x',
      ':bob!b@h PRIVMSG #c :!p\0ng', ':srv 353 hive = #c :a b', ':bob!b@h join #c', ':only', '@t=1 :a!b@c NOTICE #c :!ping',
    ].map((l) => Buffer.from(l, 'utf8'));
    lines.push(Buffer.concat([Buffer.from(':bob!b@h PRIVMSG #c :!p'), Buffer.from([0xff, 0xfe]), Buffer.from('ng')]));
    const ts = lines.map((l) => routeOf(encode({ lines: [l], meta: { 'hive.nick': 'hive' } }), '!'));
    const script = `import sys, json, hive_node as h\nfrom dbus_next import Variant\nlines = [bytes.fromhex(x) for x in json.load(sys.stdin)]\nprint(json.dumps([h.route_of([l], {'hive.nick': Variant('s', 'hive')}, '!') for l in lines]))`;
    const r = await execa('/usr/bin/python3', ['-c', script], { env: { PYTHONPATH: PYTHON_SDK }, input: JSON.stringify(lines.map((l) => l.toString('hex'))), reject: false });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual(ts);
  });

  it('would notice a drift: a changed argument type does not compare equal', async () => {
    const committed = normaliseInterface(await readFile(join(ROOT, 'protocol/org.hive.Node1.xml'), 'utf8'), NODE_INTERFACE);
    expect(withoutMethods(committed.replace('type="t"', 'type="u"'), OPTIONAL)).not.toBe(withoutMethods(committed, OPTIONAL));
  });
});
