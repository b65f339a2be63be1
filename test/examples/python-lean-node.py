#!/usr/bin/python3
"""A Python node for test/examples/python-lean.test.ts: TLS and a child process through asyncio, in
a node whose SDK loads ssl and subprocess only when they are used (protocol/sdk/python/lean_imports.py).

Commands, named after config `prefix` (two of these nodes run under one parent):
  PREFIXtls PORT      asyncio.open_connection('localhost', PORT, ssl=True): asyncio's own default
                      context (trusting SSL_CERT_FILE); answers the server's first line, or the
                      name of the error that ended the connection
  PREFIXtlsctx PORT   the same with a context the plugin makes itself after `import ssl`, trusting
                      only the file in config `ca` (as aiohttp and most client libraries do)
  PREFIXrun WORD      runs `/bin/echo WORD` with asyncio.create_subprocess_exec, answers its output
  PREFIXmodules       which of the modules loaded on first use are loaded now (JSON)
"""
import json
import sys

from hive_node import HiveNode, bad_environment

WATCHED = ('ssl', '_ssl', '_hashlib', 'gi', 'pyexpat', 'xml.etree.ElementTree', 'urllib.parse', 'dbus_next.glib.message_bus',
           'subprocess', '_posixsubprocess')

node = HiveNode(kind='responder')
prefix = node.config.get('prefix', '')
if not isinstance(prefix, str) or not prefix.isalpha() or len(prefix) > 8:
    bad_environment('config prefix: expected 1 to 8 letters')


def loaded():
    return [m for m in WATCHED if type(sys.modules.get(m)).__name__ == 'module']


async def first_line(cmd, make_ssl):
    import asyncio
    try:
        port = int(cmd.args)
        if not 0 < port < 65536:
            raise ValueError(port)
    except ValueError:
        await cmd.reply('usage: tls PORT')
        return
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection('localhost', port, ssl=make_ssl()), 5)
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
        finally:
            writer.close()
        await cmd.reply(line.decode().strip())
    except Exception as err:       # the name of what refused it, for the test to check
        await cmd.reply(f'error {type(err).__name__}')


def own_context():
    import ssl                     # after start, as a client library does when it is first used
    return ssl.create_default_context(cafile=node.config['ca'])


@node.command(f'{prefix}tls')
async def tls(cmd):
    await first_line(cmd, lambda: True)


@node.command(f'{prefix}tlsctx')
async def tlsctx(cmd):
    await first_line(cmd, own_context)


@node.command(f'{prefix}run')
async def run(cmd):
    import asyncio
    proc = await asyncio.create_subprocess_exec('/bin/echo', cmd.args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await asyncio.wait_for(proc.communicate(), 5)
    await cmd.reply(f'{out.decode().strip()} (exit {proc.returncode})')


@node.command(f'{prefix}modules')
async def modules(cmd):
    await cmd.reply(json.dumps(loaded()))


node.run()
