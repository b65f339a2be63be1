#!/usr/bin/python3
"""@@NAME@@: a responder. `!@@COMMAND@@ world` → `hello, world`; `!@@COMMAND@@` alone → `hello, <you>`.

Made by `hive new`: `hive dev .` runs it in a development hive, `python3 -m unittest` tests it.
hive_node is Hive's Python SDK: the supervisor puts its folder on the plugin's PYTHONPATH.
"""
from hive_node import HiveNode, bad_environment

node = HiveNode(kind='responder', commands=[
    ('@@COMMAND@@', '@@COMMAND@@ [NAME] — says hello to NAME, or to you'),
])

# HIVE_CONFIG is the plugin's `config:` (hive-plugin.yaml's schema checked it; check it again here).
greeting = node.config.get('greeting', 'hello')
if not isinstance(greeting, str) or not 1 <= len(greeting) <= 100:
    bad_environment('config greeting: expected 1 to 100 characters')   # exit 2: not restarted


@node.command('@@COMMAND@@')
async def hello(cmd):
    await cmd.reply(f'{greeting}, {cmd.args or cmd.nick}')


node.run()
