// The Python SDK loads ssl, subprocess, dbus_next's GLib flavour, xml.etree and urllib.parse only
// when they are used (protocol/sdk/python/lean_imports.py, issue 17): an idle Python node has none
// of them (nor libssl, libcrypto, libglib mapped), and everything that uses them still works: TLS
// through asyncio with its own default context and with a context the plugin makes after
// `import ssl`, certificate checks included (an untrusted server is refused), a child process
// through asyncio, and the modules themselves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { PYTHON_SDK } from '../../tree-supervisor/node-process.js';
import { ROOT } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';
import { startPrivateBus, startTestRoot, type PrivateBus, type TestRoot } from '../helpers/bus.js';
import { spawnNode, stopAllNodes, TEST_INSTANCE, type NodeProcess } from '../helpers/node-process.js';
import { nodeBusName } from '../../protocol/names.js';
import { line, type HiveMessage } from '../../protocol/hive-message.js';

const PYTHON = '/usr/bin/python3';
const LEAN_NODE = join(ROOT, 'test/examples/python-lean-node.py');
const RESPONDER = join(ROOT, 'plugins/examples/python/responder.py');
// What an idle node must not have mapped: ssl's libraries and GLib's.
const LAZY_LIBRARIES = /lib(ssl|crypto|glib-2\.0|gobject-2\.0)\.so|_ssl\.cpython|_hashlib\.cpython|_gi\.cpython/;

beforeAll(async () => {
  for (const [program, args, install] of [[PYTHON, ['-c', 'import dbus_next'], 'sudo apt-get install -y python3-dbus-next'], ['openssl', ['version'], 'sudo apt-get install -y openssl']] as const) {
    const r = await execa(program, args, { reject: false });
    if (r.exitCode !== 0) throw new Error(`${program} ${args.join(' ')} failed: run \`${install}\` (or scripts/install-system-deps)\n${String(r.stderr)}`);
  }
});

/** A self-signed certificate for localhost, made by openssl in `dir`. */
async function certificate(dir: string, name: string): Promise<{ key: string; cert: string; certFile: string }> {
  const keyFile = join(dir, `${name}.key`), certFile = join(dir, `${name}.pem`);
  await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', keyFile, '-out', certFile]);
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), certFile };
}

/** A TLS server on localhost that says `greeting` to each connection and closes it. */
async function tlsServer(key: string, cert: string, greeting: string): Promise<{ server: Server; port: number }> {
  const server = createServer({ key, cert }, (socket) => socket.end(`${greeting}\n`));
  server.on('tlsClientError', () => { /* the untrusted server's clients hang up on it: expected */ });
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** What the node's process has mapped that an idle node should not. */
async function lazyLibrariesMapped(pid: number): Promise<string[]> {
  const maps = await readFile(`/proc/${pid}/maps`, 'utf8');
  return [...new Set(maps.split('\n').map((l) => l.split(/\s+/)[5] ?? '').filter((f) => LAZY_LIBRARIES.test(f)))];
}

describe('a Python node loads ssl, subprocess, GLib, xml.etree and urllib.parse only when used', () => {
  let privateBus: PrivateBus;
  let r: TestRoot;
  let dir: string;
  let trusted: { server: Server; port: number };
  let untrusted: { server: Server; port: number };
  let ca: string;
  const nodes: Record<string, NodeProcess> = {};
  const ask = async (text: string): Promise<string> => {
    const msg: HiveMessage = { lines: [line(`:bob!b@host PRIVMSG #chan :${text}`)], meta: { 'hive.network': 'net', 'hive.nick': 'hive' } };
    r.node.emit(msg);
    const reply = await r.replyTo(msg.meta['hive.id'] as string, 15_000);
    return String(reply.lines[0]).replace(/^PRIVMSG #chan :/, '');
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hive-python-lean-'));
    const good = await certificate(dir, 'trusted');
    const bad = await certificate(dir, 'untrusted');
    ca = good.certFile;
    trusted = await tlsServer(good.key, good.cert, 'hello over tls');
    untrusted = await tlsServer(bad.key, bad.cert, 'should never be read');
    privateBus = await startPrivateBus();
    r = await startTestRoot(privateBus.address);
    // SSL_CERT_FILE: what asyncio's default context (ssl=True) trusts, here the test's own CA.
    for (const prefix of ['a', 'b']) {
      nodes[prefix] = spawnNode({ name: `tls${prefix}`, command: [PYTHON, LEAN_NODE], bus: privateBus.address, parent: nodeBusName(TEST_INSTANCE, 'mouth'), config: { prefix, ca }, env: { SSL_CERT_FILE: ca } });
    }
    nodes.resp = spawnNode({ name: 'pyresp', command: [PYTHON, RESPONDER], bus: privateBus.address, parent: nodeBusName(TEST_INSTANCE, 'mouth') });
    await waitFor(() => [...r.node.children.values()].map((c) => c.name).sort().join() === 'pyresp,tlsa,tlsb', { timeout: 20_000, what: 'the Python nodes attached' });
  }, 60_000);
  afterAll(async () => {
    await stopAllNodes();
    await r?.stop();
    await privateBus?.stop();
    trusted?.server.close();
    untrusted?.server.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('an attached node that has answered commands has none of them loaded', async () => {
    expect(await ask('!pyping')).toBe('pong from python');
    expect(JSON.parse(await ask('!amodules'))).toEqual([]);
    for (const node of Object.values(nodes)) expect(await lazyLibrariesMapped(node.proc.pid!)).toEqual([]);
  });

  it('TLS through asyncio with its default context (ssl=True) works, and loads ssl then', async () => {
    expect(await ask(`!atls ${trusted.port}`)).toBe('hello over tls');
    expect(JSON.parse(await ask('!amodules'))).toEqual(expect.arrayContaining(['ssl', '_ssl']));
    expect(await lazyLibrariesMapped(nodes.a!.proc.pid!)).toEqual(expect.arrayContaining([expect.stringMatching(/libssl\.so/)]));
    expect(await ask(`!atls ${trusted.port}`)).toBe('hello over tls'); // and again, with the real module in place
  });

  it('refuses a server whose certificate nobody trusts, with ssl\'s own error', async () => {
    expect(await ask(`!atls ${untrusted.port}`)).toBe('error SSLCertVerificationError');
    expect(await ask(`!atlsctx ${untrusted.port}`)).toBe('error SSLCertVerificationError');
  });

  it('TLS with a context the plugin makes after `import ssl` works in a node that had not used TLS', async () => {
    expect(JSON.parse(await ask('!bmodules'))).toEqual([]);
    expect(await ask(`!btlsctx ${trusted.port}`)).toBe('hello over tls');
    expect(await ask(`!btls ${trusted.port}`)).toBe('hello over tls');
    expect(await ask(`!btls ${untrusted.port}`)).toBe('error SSLCertVerificationError');
    for (const node of Object.values(nodes)) expect(node.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
    expect(await lazyLibrariesMapped(nodes.resp!.proc.pid!)).toEqual([]); // the responder never used any
  });

  it('a child process through asyncio works, and loads subprocess then', async () => {
    expect(await ask('!arun spawned')).toBe('spawned (exit 0)');
    expect(JSON.parse(await ask('!amodules'))).toEqual(expect.arrayContaining(['subprocess', '_posixsubprocess']));
    expect(await ask('!arun again')).toBe('again (exit 0)');
  });

  it('the modules, imported after start, are the real ones and work', async () => {
    const script = [
      'import sys, hive_node',
      "lazy = ['ssl', 'gi', 'pyexpat', 'xml.etree.ElementTree', 'urllib.parse', 'dbus_next.glib.message_bus', 'subprocess']",
      'print([m for m in lazy if m in sys.modules])',
      'import ssl, subprocess, asyncio.subprocess as aio, urllib.parse, xml.etree.ElementTree as ET',
      'print(type(subprocess).__name__, (aio.PIPE, aio.STDOUT, aio.DEVNULL) == (subprocess.PIPE, subprocess.STDOUT, subprocess.DEVNULL), subprocess.run(["/bin/true"]).returncode)',
      'from dbus_next.glib import MessageBus',
      'from dbus_next import introspection',
      'from dbus_next._private.address import parse_address',
      'print(type(ssl).__name__, ssl.PROTOCOL_TLS_CLIENT > 0, urllib.parse.quote("a b"), ET.fromstring("<a/>").tag)',
      "print(MessageBus.__module__, len(introspection.Node.parse(hive_node.INTROSPECTION).interfaces))",
      "print(parse_address('unix:path=/tmp/a%20b,guid=1'), parse_address('unix:path=/tmp/ab'))",
      'print(isinstance(ET.Element("x"), introspection.ET.Element))',
    ].join('\n');
    const res = await execa(PYTHON, ['-c', script], { env: { PYTHONPATH: PYTHON_SDK }, reject: false });
    expect(res.stderr).toBe('');
    expect(res.stdout.split('\n')).toEqual([
      '[]',
      'module True 0',
      'module True a%20b a',
      'dbus_next.glib.message_bus 3',
      "[('unix', {'path': '/tmp/a b', 'guid': '1'})] [('unix', {'path': '/tmp/ab'})]",
      'True',
    ]);
  });

  it('a plugin that imports asyncio before hive_node gets plain imports, and still runs', async () => {
    const script = 'import asyncio, sys\nimport hive_node\nprint(sys.modules["asyncio.sslproto"].ssl is sys.modules["ssl"])';
    const res = await execa(PYTHON, ['-c', script], { env: { PYTHONPATH: PYTHON_SDK }, reject: false });
    expect(res.stderr).toBe('');
    expect(res.stdout).toBe('True');
  });
});
