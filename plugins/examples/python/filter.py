#!/usr/bin/python3
"""pyfilter: a Hive filter in Python, with children under it.

On the way down it writes a word in capitals (config `word`, default `python`: `!echo hi python`
reaches its children as `!echo hi PYTHON`) and tags every message with `pyfilter.seen` = true.
On the way up it passes on what its children send, counting by origin. Its figures are in the
Details property (`hive tree`, or Properties.GetAll on org.hive.<instance>.pyfilter).

    plugins:
      - name: pyfilter
        exec: [/usr/bin/python3, plugins/examples/python/filter.py]
        config: {word: python}
      - name: echo
        use: echo
        parent: pyfilter

Attach, Detach, Send, Replay for its children, and the Reparent signal it emits before it exits
(so its children move up to its parent instead of waiting), are in hive_node.py (protocol/sdk/python, section 8): a
filter only says what to change.
"""
# --8<-- [start:filter]
import re

from hive_node import HiveNode, bad_environment, parse_irc_line, to_bytes, to_text

node = HiveNode(kind='filter')

# HIVE_CONFIG is the node's `config:` from the hive config, as a JSON object.
word = node.config.get('word', 'python')
if not isinstance(word, str) or not re.fullmatch(r'[A-Za-z0-9]{1,32}', word):
    bad_environment('config word: expected 1 to 32 letters or digits')   # exit 2
pattern = re.compile(r'\b' + re.escape(word) + r'\b', re.IGNORECASE)
figures = {'down': 0, 'changed': 0, 'up_by_origin': {}}


def down(msg):
    """A message from our parent, before our children get it; returning None would drop it."""
    figures['down'] += 1
    msg.set('pyfilter.seen', 'b', True)       # our own metadata key: namespace, dot, name
    for i, raw in enumerate(msg.lines):
        line = to_text(raw)
        irc = parse_irc_line(line)
        if irc and irc.command == 'PRIVMSG' and len(irc.params) == 2 and irc.params[1]:
            text = irc.params[1]              # the last parameter ends the line
            changed = pattern.sub(word.upper(), text)
            if changed != text:
                msg.lines[i] = to_bytes(line[:len(line) - len(text)] + changed)
                figures['changed'] += 1
    return msg


def up(msg, child):
    """A message a child sent, before it goes to our parent; returning None refuses it."""
    origin = msg.get('hive.origin', child)
    figures['up_by_origin'][origin] = figures['up_by_origin'].get(origin, 0) + 1
    return msg


node.down = down
node.up = up
node.details = lambda: figures
node.run()
# --8<-- [end:filter]
