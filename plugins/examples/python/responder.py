#!/usr/bin/python3
"""pyresp: a Hive responder in Python. `!pyping` answers `pong from python`, `!pyecho TEXT` says TEXT.

Run it from a hive config (Debian's python3, where the apt package is installed):

    plugins:
      - name: pyresp
        exec: [/usr/bin/python3, plugins/examples/python/responder.py]

Why python3-dbus-next (Debian: `apt-get install python3-dbus-next`), and not pip:
  - it is packaged in Debian, so a plugin needs no pip, no virtualenv, nothing but apt;
  - it is asyncio: one event loop answers calls (SetParent, Attach from children, the
    properties) while the node waits for its parent's answer to a Send, with no threads;
  - its low-level API gives every message as it is, sender included: a parent must know
    which connection called Attach or Send, and must check who sent a signal;
  - it marshals the nested types of a HiveMessage, (aaya{sv}) with variants, for us;
  - it is the Python twin of the library the TypeScript runtime uses (node's dbus-next).
  (python3-jeepney works too, see docs/protocol.md#a-node-in-python: it is smaller, but its
  blocking loop serves one thing at a time. dbus-python needs GLib's main loop.)

Everything the protocol asks of a node (attach, follow the parent, SetParent, Reparent,
properties, replay, exit codes) is in hive_node.py, Hive's Python SDK (protocol/sdk/python, on the PYTHONPATH the supervisor gives). With commands only,
the node asks the bus for their routes alone (PRIVMSG.command.pyping, PRIVMSG.command.pyecho;
docs/protocol.md#routes): the rest of the channel never wakes it.
"""
# --8<-- [start:responder]
from hive_node import HiveNode

node = HiveNode(kind='responder', commands=[
    ('pyping', 'pyping — answers pong from python'),
    ('pyecho', 'pyecho TEXT — says TEXT back'),
])


@node.command('pyping')
async def pyping(cmd):
    await cmd.reply('pong from python')


@node.command('pyecho')
async def pyecho(cmd):
    if not cmd.args:
        await cmd.reply('usage: pyecho TEXT')   # bad input gets a clear answer, never a crash
        return
    await cmd.reply(cmd.args)


node.run()
# --8<-- [end:responder]
