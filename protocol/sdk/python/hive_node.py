"""hive_node.py: a Hive node in Python, everything docs/protocol.md asks of one, in one file.

Hive's Python SDK, versioned with the protocol it speaks (PROTOCOL below): import it, do not copy
it (`from hive_node import HiveNode`). The supervisor puts this folder (protocol/sdk/python) first
on every node's PYTHONPATH; to run a plugin by hand, set PYTHONPATH to it yourself.
plugins/examples/python/responder.py and filter.py import it so.
Nothing here comes from Hive's TypeScript; it speaks D-Bus with python3-dbus-next (Debian
package; why that library: see the top of responder.py) and needs Debian's /usr/bin/python3,
the interpreter the apt package is installed for. Import it before asyncio: lean_imports.py, next
to it, then loads asyncio and dbus_next without ssl, GLib and the like until a plugin uses them.

Read it top to bottom; the sections follow docs/protocol.md:

  1. logging              JSON lines on stderr, as the supervisor re-logs them
  2. environment          HIVE_* variables, exit code 2 when they are wrong
  3. IRC lines, commands  what a responder needs to recognise `!pyping`
  4. messages             HiveMessage = (aaya{sv}): lines as bytes, metadata as variants
  5. routes               what a message is (`PRIVMSG.command.pyping`): subscribe to only those
  6. the node             one connection: own the name, follow the parent, attach, replay
  7. down and up          messages from the parent; replies and Send to the parent
  8. having children      Attach, Detach, Send, Replay, ReplayRoutes, and passing messages down
  9. serving calls        SetParent, the properties, Introspect; who is let in (credentials)
 10. leaving              Reparent, Detach, exit 0; exit 1 when the bus is lost
"""
import json
import os
import re
import signal
import sys
import time
from collections import deque

# The contract this module speaks: the interface and its revision (routes: Message is s(aaya{sv}),
# ReplayRoutes). A test holds INTROSPECTION below equal to protocol/org.hive.Node1.xml.
PROTOCOL = 'org.hive.Node1'
PROTOCOL_REVISION = 2

# asyncio and dbus_next without ssl, subprocess, dbus_next's GLib flavour, xml.etree and urllib.parse
# until a plugin uses them (issue 17: the idle example responder 20.0 -> 13.7 MB PSS in a hive, with
# not importing secrets below): lean_imports.py, next to this file.
try:
    import lean_imports
    lean_imports.load()
    import asyncio
    from dbus_next import Message, MessageType, Variant
    from dbus_next.aio import MessageBus
except ImportError:   # the usual mistake: another python3 than Debian's (pyenv, a virtualenv)
    why = f'python3-dbus-next is not installed for {sys.executable}: run the plugin with /usr/bin/python3 ' \
          '(apt-get install python3-dbus-next)'
    print(json.dumps({'level': 60, 'time': int(time.time() * 1000), 'msg': why}), file=sys.stderr)
    sys.exit(2)   # a bad environment: the supervisor does not restart it in a loop

NODE_PATH = '/org/hive/Node'
NODE_IFACE = 'org.hive.Node1'
PROPS_IFACE = 'org.freedesktop.DBus.Properties'
DBUS = dict(destination='org.freedesktop.DBus', path='/org/freedesktop/DBus', interface='org.freedesktop.DBus')
NAME_PATTERN = re.compile(r'[A-Za-z][A-Za-z0-9_]{0,63}')
CALL_TIMEOUT = 10.0     # seconds a call to the parent may take (docs/protocol.md: Send)
REPLAY_SIZE = 512       # messages kept for a child's Replay
SEQ_SAVE_DELAY = 0.1    # save the last hive.seq at most every 100 ms
SEQ_WINDOW = 1024       # a hive.seq at most this far below the last is a repeat; further below, a new numbering
MAX_SEQ_NETWORKS = 64   # networks whose last hive.seq is remembered (and saved); a 65th is delivered, not remembered
SEQ_FUTURE = 600        # seconds: a hive.seq beyond (now + this) in microseconds is forged, never remembered
MAX_REATTACH = 3        # refused as a child (NotChild) more often than this within PLACE_WINDOW: exit 3
PLACE_WINDOW = 60.0
REATTACH_BACKOFF = 0.5  # seconds before the second re-attach, doubling
EXIT_LOST_PLACE = 3     # docs/protocol.md#exit-codes
VOUCH_TIMEOUT = 3.0     # seconds the supervisor's Vouch may take (docs/protocol.md#credentials)
VOUCH_CACHE = 64        # (name, credential) pairs the supervisor vouched for, kept for VOUCH_TTL
VOUCH_TTL = 60.0
CHECK_PARENT_TIMEOUT = 2.5  # seconds the supervisor's CheckParent may take; silence is a no
OWN_NAME_WAIT = 2.0     # seconds to wait for a last run of this node to leave the bus with our name

# ---- 1. logging ------------------------------------------------------------------------------
# One JSON object per line on stderr, in pino's shape: the supervisor re-logs it with its level
# and fields under the node's name. Never log HIVE_TOKEN (this node's credential) nor another's.
LEVELS = {'trace': 10, 'debug': 20, 'info': 30, 'warn': 40, 'error': 50, 'fatal': 60, 'silent': 100}
_min_level = LEVELS.get(os.environ.get('HIVE_LOG_LEVEL', 'info'), 30)


def log(level, msg, **fields):
    if LEVELS[level] < _min_level:
        return
    line = {'level': LEVELS[level], 'time': int(time.time() * 1000), 'msg': msg, **fields}
    print(json.dumps(line, default=str, separators=(',', ':')), file=sys.stderr, flush=True)


# ---- 2. environment ------------------------------------------------------------------------------
class Environment:
    """The HIVE_* variables (docs/protocol.md#environment), checked once at start."""

    def __init__(self, env):
        problems = []
        self.node = env.get('HIVE_NODE', '')
        self.instance = env.get('HIVE_INSTANCE', 'default')
        for key, value in (('HIVE_NODE', self.node), ('HIVE_INSTANCE', self.instance)):
            if not NAME_PATTERN.fullmatch(value):
                problems.append(f'{key}: expected letters, digits and _ starting with a letter')
        self.token = env.get('HIVE_TOKEN', '')      # this node's own credential
        if not self.token:
            problems.append("HIVE_TOKEN: the node's credential is required")
        # HIVE_VOUCH=1 (the supervisor sets it): a caller's credential is checked by asking the supervisor.
        self.vouch = env.get('HIVE_VOUCH', '') == '1'
        if env.get('HIVE_VOUCH', '') not in ('', '0', '1'):
            problems.append('HIVE_VOUCH: expected 1 (the supervisor vouches for credentials) or 0')
        self.bus_address = env.get('HIVE_BUS_ADDRESS') or env.get('DBUS_SESSION_BUS_ADDRESS', '')
        if not self.bus_address:
            problems.append('HIVE_BUS_ADDRESS: required (or DBUS_SESSION_BUS_ADDRESS)')
        self.parent = env.get('HIVE_PARENT', '')
        self.state_dir = env.get('HIVE_STATE_DIR', '')
        self.prefix = env.get('HIVE_COMMAND_PREFIX', '!')
        self.hold_on_death = env.get('HIVE_ON_DEATH', 'bypass') == 'hold'
        if env.get('HIVE_ON_DEATH', 'bypass') not in ('hold', 'bypass'):
            problems.append("HIVE_ON_DEATH: expected 'hold' or 'bypass'")
        try:
            self.config = json.loads(env.get('HIVE_CONFIG') or '{}')
        except ValueError:
            self.config = None
        if not isinstance(self.config, dict):
            problems.append('HIVE_CONFIG: expected a JSON object')
        if problems:
            bad_environment('; '.join(problems))


def bad_environment(why):
    """Exit code 2: the supervisor marks the node failed instead of restarting it in a loop."""
    log('fatal', f'bad environment or config: {why}')
    sys.exit(2)


# ---- 3. IRC lines and commands -------------------------------------------------------------------
# Lines are bytes (a network's encoding is unknown). Decoding with 'surrogateescape' gives a str
# that encodes back to exactly the same bytes, so a filter can change text without breaking the
# bytes it does not understand.
def to_text(raw):
    return raw.decode('utf-8', 'surrogateescape')


def to_bytes(text):
    return text.encode('utf-8', 'surrogateescape')


class IrcLine:
    """`[@tags ][:nick!user@host ]COMMAND params [:last param]`, as a server sends it."""

    def __init__(self, nick, command, params):
        self.nick, self.command, self.params = nick, command, params


def parse_irc_line(line):
    rest = line
    if rest.startswith('@'):
        rest = rest.partition(' ')[2]                 # IRCv3 tags: hive.tags has them decoded
    nick = ''
    if rest.startswith(':'):
        prefix, _, rest = rest.partition(' ')
        nick = prefix[1:].split('!')[0].split('@')[0]
    command, _, rest = rest.lstrip(' ').partition(' ')
    params = []
    while rest:
        rest = rest.lstrip(' ')
        if rest.startswith(':'):
            params.append(rest[1:])                   # the last parameter may hold spaces
            break
        word, _, rest = rest.partition(' ')
        if word:
            params.append(word)
    return IrcLine(nick, command.translate(ASCII_UPPER), params) if command else None


ASCII_UPPER = str.maketrans('abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')   # IRC commands are ASCII


class Command:
    """A command someone gave: `!pyecho hi`, `hivebot: pyecho hi`, or `pyecho hi` in private."""

    def __init__(self, node, msg, name, args, nick, reply_to):
        self.node, self.message = node, msg
        self.name, self.args, self.nick, self.reply_to = name, args, nick, reply_to

    async def reply(self, text):
        """Answers where it was asked: the channel, or the speaker for a private message."""
        await self.node.reply(self.message, self.reply_to, text)


# JavaScript's \s (and String.trim's whitespace): the TypeScript SDK splits a command on exactly
# these, so both read `!ping\x1fx` (IRC underline) as the same command word. Python's own \s and
# str.split() also take \x1c-\x1f and \x85.
JS_SPACE_CHARS = '\t\n\v\f\r \u00a0\u1680' + ''.join(map(chr, range(0x2000, 0x200b))) + '\u2028\u2029\u202f\u205f\u3000\ufeff'
JS_SPACE = re.escape(JS_SPACE_CHARS)         # the same set, for a character class
COMMAND_WORD = re.compile(f'^[{JS_SPACE}]*([^{JS_SPACE}]+)[{JS_SPACE}]*(.*)$', re.DOTALL)


def parse_command(line, own_nick, prefix):
    """The same rules as the TypeScript SDK (protocol/sdk/command.ts): (name, args, nick, reply_to) or None."""
    return command_of(parse_irc_line(line), own_nick, prefix)


def command_of(irc, own_nick, prefix):
    """parse_command for a line already parsed."""
    if not irc or irc.command != 'PRIVMSG' or len(irc.params) < 2:
        return None
    target, text = irc.params[0], irc.params[-1]
    private = target[:1] not in '#&+!'
    rest = None
    if prefix and text.startswith(prefix):
        rest = text[len(prefix):]
    elif own_nick:
        addressed = re.match(re.escape(own_nick) + f'[:,][{JS_SPACE}]*', text, re.IGNORECASE)
        if addressed:
            rest = text[addressed.end():]
    if rest is None and private:
        rest = text
    m = COMMAND_WORD.match(rest or '')
    if not m:
        return None
    return m.group(1).lower(), m.group(2).strip(JS_SPACE_CHARS), irc.nick, (irc.nick if private else target)


# ---- 4. messages ---------------------------------------------------------------------------------
# On the bus a HiveMessage is the struct (aaya{sv}) (the Message signal puts its route before it,
# section 5). dbus-next gives it as [lines, meta]: lines a list of bytes, meta a dict of Variant
# (each with .signature and .value).
class HiveMessage:
    def __init__(self, lines, meta, route=None):
        self.lines, self.meta = list(lines), dict(meta)
        self.route = route                          # its route key as it came (section 5); None for one made here

    def get(self, key, default=None):
        value = self.meta.get(key)
        return default if value is None else value.value

    def set(self, key, signature, value):
        self.meta[key] = Variant(signature, value)

    def wire(self):
        return [self.lines, self.meta]


# The hive.* keys and their exact D-Bus types (docs/protocol.md#metadata). Any other key needs a
# namespace of its own (`pyfilter.seen`); its type is free.
META_TYPES = {
    'hive.id': 's', 'hive.network': 's', 'hive.time': 'd', 'hive.nick': 's', 'hive.reply_to': 's',
    'hive.seq': 't', 'hive.path': 'as', 'hive.tags': 'a{ss}', 'hive.account': 's', 'hive.event': 's',
    'hive.reason': 's', 'hive.origin': 's', 'hive.query': 'b', 'hive.replayed': 'b', 'hive.capabilities': 'as',
    'hive.ctcp': 'b', 'hive.msgid': 's', 'hive.reply_msgid': 's', 'hive.replaces': 's', 'hive.links': 'as',
    'hive.history': 'b',
}
CUSTOM_KEY = re.compile(r'[a-z][a-z0-9_-]*\.[A-Za-z0-9_.-]+')


def value_size(value, limit=16384):
    """A D-Bus value's size as on the wire without padding (docs/protocol.md#limits); stops past `limit`."""
    total, stack = 0, [value]
    while stack and total <= limit:
        v = stack.pop()
        if isinstance(v, Variant):
            total += len(v.signature) + 2
            stack.append(v.value)
        elif isinstance(v, str):
            total += len(v.encode()) + 5
        elif isinstance(v, (bytes, bytearray)):
            total += 4 + len(v)
        elif isinstance(v, bool):
            total += 4
        elif isinstance(v, (int, float)):
            total += 8
        elif isinstance(v, dict):
            total += 4
            for k, x in v.items():
                total += value_size(k)
                stack.append(x)
                if total > limit:
                    break
        elif isinstance(v, (list, tuple)):
            total += 4 + min(len(v), limit + 1)
            stack.extend(v[:limit + 1])
        else:
            total += 1
    return total


def stamp_sender(meta, child):
    """Path and origin from the verified sender (docs/protocol.md#path-and-origin); a problem or None."""
    claimed = list(meta['hive.path'].value) if 'hive.path' in meta else []
    path = claimed if claimed and claimed[-1] == child else claimed + [child]
    if len(path) > 64:
        return f'hive.path would hold {len(path)} nodes; at most 64'
    meta['hive.path'] = Variant('as', path)
    origin = meta.get('hive.origin')
    if origin is None or origin.value not in path:
        meta['hive.origin'] = Variant('s', path[0])
    return None


def check_message(lines, meta):
    """What is wrong with a message a child sent (docs/protocol.md#limits), or None."""
    if len(lines) > 128:
        return 'more than 128 lines'
    if sum(len(line) for line in lines) > 65536:
        return 'more than 65536 bytes of lines'
    for line in lines:
        if not line or len(line) > 8704 or any(c in line for c in b'\r\n\0'):
            return 'a line is empty, longer than 8704 bytes, or holds CR, LF or NUL'
    if len(meta) > 64:
        return 'more than 64 metadata entries'
    size = 0
    for key, value in meta.items():
        size += value_size(key) + value_size(value)
        if size > 16384:
            return 'more than 16384 bytes of metadata'
        if key in META_TYPES:
            if value.signature != META_TYPES[key]:
                return f'{key} must have the type {META_TYPES[key]}'
        elif key.startswith('hive.') or not CUSTOM_KEY.fullmatch(key):
            return f"metadata key '{key}' is unknown or has no namespace of its own"
    if size > 16384:
        return 'more than 16384 bytes of metadata'
    return None


class HiveError(Exception):
    """A D-Bus error reply; `name` is short (NotChild) for org.hive.Error.*, else the full name."""

    def __init__(self, name, text):
        super().__init__(text)
        self.dbus_name = name if '.' in name else f'org.hive.Error.{name}'
        self.text = text


# Errors that say the parent went away, not that it refused the message.
PARENT_GONE = {'org.hive.Error.NoParent', 'org.freedesktop.DBus.Error.NoReply', 'org.freedesktop.DBus.Error.ServiceUnknown',
               'org.freedesktop.DBus.Error.NameHasNoOwner', 'org.freedesktop.DBus.Error.Disconnected'}


# ---- 5. routes (docs/protocol.md#routes) ------------------------------------------------------------
# The Message signal is (route, message): the route key says what the message is, so that a child
# can ask the bus daemon, with a match rule on arg0, for only the messages it wants. A responder
# with commands only is then never woken by the rest of the channel. The mouth computes the key;
# a node passes it on unchanged, and computes it only for a message it made or changed.
COMMAND_ROUTE = 'PRIVMSG.command.'        # + the command's name: the route of a command to the bot
MAX_ROUTES = 256                          # patterns one ReplayRoutes may name
MAX_EVICTED_ROUTES = 1024                 # (network, route) pairs whose last evicted hive.seq is kept
MAX_REPLAY_BYTES = 8 * 1024 * 1024        # a Replay answer must fit one bus message (16 MiB)
# dbus-daemon takes arg0namespace only for a valid bus-name prefix: elements of [A-Za-z_-][A-Za-z0-9_-]*.
NAMESPACE = re.compile(r'[A-Za-z_-][A-Za-z0-9_-]*(\.[A-Za-z_-][A-Za-z0-9_-]*)*')
# A parent from before routes answers an unknown method so: then Replay, filtered here.
UNKNOWN_METHOD = {'org.hive.Error.InvalidArgs', 'org.freedesktop.DBus.Error.UnknownMethod'}


def route_of(lines, meta, prefix):
    """The route key of a message: `event.<hive.event>` without lines, else from the first line
    `PRIVMSG.command.<name>` for a command to the bot, or its command word (`PRIVMSG`, `JOIN`, `001`).
    NUL becomes U+FFFD (a D-Bus string may not hold it), as in the TypeScript SDK."""
    return _route_key(lines, meta, prefix).replace('\0', '\ufffd')


def _route_key(lines, meta, prefix):
    if not lines:
        event = meta.get('hive.event')
        return f'event.{event.value}' if event is not None and isinstance(event.value, str) and event.value else 'event'
    # Invalid UTF-8 as U+FFFD, as the TypeScript SDK reads it: a route is a D-Bus string (no lone
    # surrogates) and must be the same whichever SDK works it out.
    irc = parse_irc_line(lines[0].decode('utf-8', 'replace'))
    if irc is None:
        return 'line'
    if irc.command == 'PRIVMSG':
        nick = meta.get('hive.nick')
        command = command_of(irc, nick.value if nick is not None and isinstance(nick.value, str) else '', prefix)
        if command:
            return COMMAND_ROUTE + command[0]
    return irc.command


def route_matches(key, pattern):
    """`K` matches the key K only; `K.*` matches K and every key under it (`PRIVMSG.*`: all PRIVMSGs)."""
    if not pattern.endswith('.*'):
        return key == pattern
    namespace = pattern[:-2]
    return key == namespace or key.startswith(namespace + '.')


def matches_any(key, patterns):
    return any(route_matches(key, p) for p in patterns)


def checked_routes(routes, what):
    """A handler's route patterns, each valid (docs/protocol.md#routes), without repeats."""
    routes = list(dict.fromkeys(routes))
    bad = [p for p in routes if not valid_pattern(p)]
    if bad:
        raise ValueError(f'{what}: route patterns {bad}: a key, or a namespace of letters, '
                         'digits, _ and - ending in .* (docs/protocol.md#routes)')
    return routes


def valid_pattern(pattern):
    """A key (any text without NUL, at most 255 characters), or a namespace the daemon takes, then `.*`."""
    if not isinstance(pattern, str) or not 0 < len(pattern) <= 255 or '\0' in pattern:
        return False
    return not pattern.endswith('.*') or NAMESPACE.fullmatch(pattern[:-2]) is not None


def rule_value(value):
    # A value quoted for a match rule: an apostrophe inside it is written '\'' (D-Bus spec, Match Rules).
    return "'" + value.replace("'", "'\\''") + "'"


def replay_bytes(wire):
    """An upper estimate of a message's size in a Replay answer (padding counted twice over)."""
    return 16 + sum(len(line) + 8 for line in wire[0]) + 2 * value_size(wire[1], limit=1 << 40)


class ReplayRing:
    """The last REPLAY_SIZE messages passed down that carry hive.network and hive.seq, for the
    children's Replay and ReplayRoutes (docs/protocol.md#replay-and-sequence-numbers). Bounded: the
    messages, the (network, route) pairs remembered, and the bytes of one answer."""

    def __init__(self, size=REPLAY_SIZE):
        self.entries = deque(maxlen=size)      # (network, seq, route, wire), oldest first
        self.evicted = {}                      # network -> highest hive.seq pushed out
        self.evicted_routes = {}               # (network, route) -> the same per route; least recently evicted first
        self.folded = {}                       # network -> highest hive.seq of the pairs forgotten: counts for every route
        self.wide_from = None                  # network -> first hive.seq taken after widening (widen())

    def add(self, network, seq, route, wire):
        if len(self.entries) == self.entries.maxlen:
            network_out, seq_out, route_out, _ = self.entries[0]
            self.evicted[network_out] = max(self.evicted.get(network_out, -1), seq_out)
            key = (network_out, route_out)
            self.evicted_routes[key] = max(self.evicted_routes.pop(key, -1), seq_out)   # moved to the end
            if len(self.evicted_routes) > MAX_EVICTED_ROUTES:
                (old_network, old_route), old_seq = next(iter(self.evicted_routes.items()))
                del self.evicted_routes[(old_network, old_route)]
                self.folded[old_network] = max(self.folded.get(old_network, -1), old_seq)
        if self.wide_from is not None and network not in self.wide_from and len(self.wide_from) < MAX_SEQ_NETWORKS:
            self.wide_from[network] = seq
        self.entries.append((network, seq, route, wire))

    def last_numbers(self):
        """network -> the last hive.seq passed down, for Attach's answer: the newest entry of each
        network in the ring, else its last evicted number (worked out at Attach, not per message)."""
        last = {}
        for network, seq, _, _ in reversed(self.entries):
            if len(last) >= MAX_SEQ_NETWORKS:
                break
            last.setdefault(network, seq)
        for network, seq in self.evicted.items():
            if len(last) < MAX_SEQ_NETWORKS:
                last.setdefault(network, seq)
        return last

    def widen(self):
        """We took some routes only until now: before the next message of a network, what came of
        its other routes never reached us, and a Replay reaching back there is not complete."""
        self.wide_from = {}

    def since(self, network, after, routes=None):
        """(messages, complete): those of `network` with hive.seq > after, oldest first, only of
        `routes` if given. Complete unless one of those was pushed out (or never came, or is left
        out to fit the answer in MAX_REPLAY_BYTES): a child that wants commands only is not told it
        lost what it never wanted."""
        found = sorted((e for e in self.entries if e[0] == network and e[1] > after
                        and (routes is None or matches_any(e[2], routes))), key=lambda e: e[1])
        first, size = len(found), 0
        while first > 0:                       # the newest first, until the answer is full
            size += replay_bytes(found[first - 1][3])
            if size > MAX_REPLAY_BYTES:
                break
            first -= 1
        if routes is None:
            evicted = self.evicted.get(network, -1)
        else:
            evicted = max([self.folded.get(network, -1)] + [seq for (n, route), seq in self.evicted_routes.items()
                                                            if n == network and matches_any(route, routes)])
        if self.wide_from is not None:             # we were narrow before: reaching back there is not complete
            evicted = max(evicted, self.wide_from[network] - 1 if network in self.wide_from else float('inf'))
        return [e[3] for e in found[first:]], first == 0 and evicted <= after


class _WaitWhenFull:
    """The bus socket as python3-dbus-next's writer sees it, but a full socket (EAGAIN) is 'sent
    nothing yet': 0.2.3 takes it for a lost connection and drops the bus (altdesktop/
    python-dbus-next#153), which a parent passing a burst of messages down hits. With 0 its writer
    waits until the socket can be written again, as it does after a partial write."""

    def __init__(self, sock):
        self._sock = sock

    def send(self, data):
        try:
            return self._sock.send(data)
        except BlockingIOError:
            return 0

    def __getattr__(self, name):
        return getattr(self._sock, name)


def wait_when_full(bus):
    writer = getattr(bus, '_writer', None)
    if writer is not None and hasattr(writer, 'sock') and not isinstance(writer.sock, _WaitWhenFull):
        writer.sock = _WaitWhenFull(writer.sock)


def unchanged(msg):
    """The down hook of a node that changes nothing: what it passes down is what came."""
    return msg


# ---- 6. the node ---------------------------------------------------------------------------------
class HiveNode:
    """One node: one process, one D-Bus connection. Set the hooks, then call run()."""

    def __init__(self, kind, commands=()):
        self.env = Environment(os.environ)          # exits 2 when the environment is wrong
        self.name, self.kind = self.env.node, kind
        self.config = self.env.config
        self.bus_name = f'org.hive.{self.env.instance}.{self.name}'
        self.supervisor = f'org.hive.{self.env.instance}.Supervisor'   # who vouches and moves nodes
        # Hooks a plugin sets (sections 7 and 8 call them):
        self.commands = []                          # (command, one line of help): the Commands property
        self.handlers = {}                          # command -> async function(Command)
        self.message_handlers = []                  # (route patterns or None for all, function(HiveMessage))
        self.down = unchanged                       # a message from the parent -> what to pass down (None: drop)
        self.up = lambda msg, child: msg            # a message a child sent -> what to pass up (None: refuse)
        self.details = dict                         # () -> figures of the node's own, the Details property
        self.commands = list(commands)
        self.counters = {'in': 0, 'out': 0, 'dropped': 0, 'errors': 0, 'lost': 0}
        self.parent = ''                            # the parent's bus name, what we follow
        self.parent_unique = None                   # its unique name (:1.7) while we are attached
        self.children = {}                          # unique name -> node name
        self._generation = 0                        # bumped on every change of parent: stale attaches stop
        self._attached = None                       # asyncio.Event: set while attached
        self._held = None                           # live messages held back while catching up
        self._parent_leaving = False
        self._last_seq = self._load_seq()           # network -> last hive.seq seen
        # network -> the parent's last hive.seq when we attached (Attach's answer), for the networks we
        # have had no message of: where the next parent's replay starts (a narrow node may have had none).
        self._floors = {}
        self._seq_timer = None
        self._ring = ReplayRing()                   # what we passed down, for the children's Replay
        self._wide = False                          # set once we take everything (children came): never narrow again
        self._rules = []                            # the match rules on the parent's signals we hold now
        self._subscribed_to = None                  # the parent connection they are on
        self._rules_lock = None                     # asyncio.Lock: one change of them at a time
        self._ids = 0
        self._id_prefix = f'{self.name}-{os.urandom(4).hex()}'   # not secrets: it loads libcrypto (3.5 MB)
        self._stopping = False
        self._refusals = []                         # times the parent refused us as a child (NotChild)
        self._vouched = {}                          # (name, credential) -> until when the supervisor's word holds
        self._refusal_log = {}                      # refusal key -> (window start, lines logged): a few a minute
        self._approved = None                       # the last parent connection the supervisor named or approved

    def command(self, name):
        """Decorator: `@node.command('pyping')` on `async def pyping(cmd)`."""
        def register(fn):
            self.handlers[name.lower()] = fn
            self._resubscribe()
            return fn
        return register

    def on_message(self, routes=None):
        """Decorator: `@node.on_message(routes=['PRIVMSG.*', 'JOIN'])` on `def seen(msg)` (or async):
        called for each message from the parent whose route (msg.route) matches a pattern (`K` the
        key K, `K.*` K and every key under it; docs/protocol.md#routes). Without routes: for every
        message, and the node then takes everything from its parent. `routes=[]`: none until
        set_routes gives it some."""
        if routes is not None:
            routes = checked_routes(routes, 'on_message')

        def register(fn):
            self.message_handlers.append((routes, fn))
            self._resubscribe()
            return fn
        return register

    async def set_routes(self, fn, routes):
        """Changes the routes of the handler `fn` (registered with `on_message(routes=…)`) while the
        node runs; `[]` takes none. Returns once the bus daemon routes by the new rules, so that a
        reply sent after it ("subscribed") is followed by everything said after it. Widening brings
        nothing from before (docs/protocol.md#routes)."""
        routes = checked_routes(routes, 'set_routes')
        for i, (old, handler) in enumerate(self.message_handlers):
            if handler is fn:
                if old is None:
                    raise ValueError('set_routes: this handler takes every message; register it with routes')
                self.message_handlers[i] = (routes, handler)
                break
        else:
            raise ValueError('set_routes: not a message handler of this node')
        if self._rules_lock is not None:
            await self._subscribe()

    def run(self):
        """Runs until SIGTERM (exit 0) or until the bus connection is lost (exit 1)."""
        try:
            code = asyncio.run(self._main())
        except Exception as err:                      # a failed set-up or a bug: exit 1, the supervisor restarts us
            log('fatal', 'node failed', reason=repr(err))
            code = 1
        sys.exit(code)

    async def _main(self):
        try:
            return await self._serve_until_stopped()
        except Exception:
            if getattr(self, 'bus', None) and self.bus.connected:   # tell the children where to go first
                await self.bus.send(Message.new_signal(NODE_PATH, NODE_IFACE, 'Reparent', 's', [self._reparent_to()]))
            raise

    def spawn(self, coro):
        """Runs a coroutine in the background; its failure is logged, never lost."""
        def done(task):
            if not task.cancelled() and task.exception() is not None:
                self.counters['errors'] += 1
                log('error', 'background task failed', reason=repr(task.exception()))
        asyncio.ensure_future(coro).add_done_callback(done)

    async def _serve_until_stopped(self):
        self._attached = asyncio.Event()
        self._rules_lock = asyncio.Lock()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            # A second signal while we are leaving: give up at once (exit 1).
            loop.add_signal_handler(sig, lambda: os._exit(1) if stop.is_set() else stop.set())
        # --8<-- [start:connect]
        self.bus = await MessageBus(bus_address=self.env.bus_address).connect()
        wait_when_full(self.bus)                     # a full socket is waited for, not a lost bus
        self.bus.add_message_handler(self._on_bus_message)  # every message we receive goes there
        # Flags 6 (REPLACE_EXISTING | DO_NOT_QUEUE, not ALLOW_REPLACEMENT): nobody can take our name
        # while we live. A last run of this node that is still leaving is waited for a moment.
        deadline = time.monotonic() + OWN_NAME_WAIT
        while (reply := await self.bus.request_name(self.bus_name, 6)).value == 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)             # 3: EXISTS, a live owner
        if reply.value not in (1, 4):            # primary owner, or already the owner
            raise HiveError('Failed', f'cannot own {self.bus_name} (reply {reply}): another live connection owns it')
        log('info', 'node on the bus', busName=self.bus_name, unique=self.bus.unique_name)
        if self.env.parent and not await self.set_parent(self.env.parent):
            log('info', 'parent not on the bus yet; waiting for it', parent=self.env.parent)
        # --8<-- [end:connect]
        lost = asyncio.ensure_future(self.bus.wait_for_disconnect())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({lost, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if lost.done():
            log('fatal', 'lost the connection to the bus', reason=repr(lost.exception()))
            return 1
        await self._leave()
        return 0

    # -- D-Bus calls ----------------------------------------------------------------------------
    async def call(self, destination, member, signature='', body=(), path=NODE_PATH, interface=NODE_IFACE, timeout=CALL_TIMEOUT):
        """A method call on our one connection; an error reply raises HiveError."""
        msg = Message(destination=destination, path=path, interface=interface, member=member, signature=signature, body=list(body))
        try:
            reply = await asyncio.wait_for(self.bus.call(msg), timeout)
        except asyncio.TimeoutError:
            raise HiveError('Timeout', f'{member} on {destination}: no answer within {timeout} s') from None
        if reply.message_type == MessageType.ERROR:
            raise HiveError(reply.error_name, reply.body[0] if reply.body else '')
        return reply.body

    async def bus_call(self, member, signature, *body):
        return await self.call(member=member, signature=signature, body=body, **DBUS)

    async def add_match(self, rule):
        await self.bus_call('AddMatch', 's', rule)

    async def remove_match(self, rule):
        """Never fails: the bus drops by itself a rule on a unique name that has disconnected."""
        try:
            await self.bus_call('RemoveMatch', 's', rule)
        except HiveError:
            pass

    async def name_owner(self, name):
        try:
            return (await self.bus_call('GetNameOwner', 's', name))[0]
        except HiveError:
            return None                               # NameHasNoOwner

    # --8<-- [start:follow]
    @staticmethod
    def owner_rule(name):
        """Match rule: the bus tells us when `name` gets a new owner or loses it."""
        return ("type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                f"member='NameOwnerChanged',arg0='{name}'")

    @staticmethod
    def signal_rule(unique):
        """Match rule: the signals of one connection, by its unique name (not a well-known name)."""
        return f"type='signal',sender='{unique}',path='{NODE_PATH}',interface='{NODE_IFACE}'"

    async def set_parent(self, parent, named=True):
        """Follows another parent (a bus name), as SetParent and Reparent ask; True once attached.
        `named`: the supervisor named it (SetParent, the start); a Reparent's target is not."""
        old_name, old_unique = self.parent, self.parent_unique
        self._generation += 1
        self.parent, self.parent_unique = parent, None
        self._attached.clear()
        if old_unique:
            await self._subscribe(None)
            if old_unique != await self.name_owner(parent):
                self.bus.send(Message(destination=old_unique, path=NODE_PATH, interface=NODE_IFACE, member='Detach'))
        if old_name and old_name != parent:
            await self.remove_match(self.owner_rule(old_name))
        if not parent:
            return False
        if old_name != parent:
            await self.add_match(self.owner_rule(parent))
        return await self.attach('named' if named else 'Reparent')

    async def attach(self, how='named'):
        """Subscribes to the parent's signals, THEN attaches, then asks what it missed. A parent the
        supervisor did not name (`how`: Reparent, NameOwnerChanged, NotChild) must be approved first."""
        generation = self._generation
        unique = await self.name_owner(self.parent)
        if generation != self._generation or not unique:
            return False                              # moved meanwhile, or not there: NameOwnerChanged will say
        if how != 'named' and unique != self._approved:
            ok = await self._check_parent(unique, how)
            if generation != self._generation or not ok:
                return False                          # refused: no Attach; NoParent until the supervisor's SetParent
        self._approved = unique
        if not await self._subscribe(unique, generation):   # subscribe BEFORE Attach: nothing is missed
            return False
        self.parent_unique = unique
        self._held = []                               # live messages wait until the replay is handled
        try:
            attached = await self.call(unique, 'Attach', 'ss', (self.name, self.env.token))
            if generation != self._generation:
                return False
            log('info', 'attached to parent', parent=self.parent)
            await self._catch_up(generation)
            self._learn_floors(attached[0] if attached and isinstance(attached[0], dict) else {})   # an older parent answers nothing
        except HiveError as err:
            if generation == self._generation:
                self.parent_unique = None
                await self._subscribe(None, generation)
            log('warn', 'attach failed', parent=self.parent, error=err.dbus_name, reason=err.text)
            return False
        finally:
            if generation == self._generation:        # else a newer attach owns the held messages
                held, self._held = self._held or [], None
                for wire, route in held:
                    self._from_parent(wire, route)
        self._attached.set()
        return True
    # --8<-- [end:follow]

    # -- routes: what we take from the parent (docs/protocol.md#routes) ----------------------------
    # --8<-- [start:routes]
    def wants(self):
        """What we take from the parent (docs/protocol.md#routes): None for everything (a node with
        children, a filter, a handler of every message), else the route patterns of our commands
        and of our message handlers."""
        if self._wide or self.children or self.kind in ('filter', 'aggregator') or self.down is not unchanged \
                or any(routes is None for routes, _ in self.message_handlers):
            return None
        patterns = {COMMAND_ROUTE + name for name in self.handlers}
        for routes, _ in self.message_handlers:
            patterns.update(routes)
        return sorted(patterns)

    def subscription_rules(self, unique):
        """The match rules on the parent `unique`: all its signals, or Reparent and the routes we want."""
        wants = self.wants()
        if wants is None:
            return [self.signal_rule(unique)]
        message = self.signal_rule(unique) + ",member='Message'"
        return [self.signal_rule(unique) + ",member='Reparent'"] + [
            message + (f',arg0namespace={rule_value(p[:-2])}' if p.endswith('.*') else f',arg0={rule_value(p)}')
            for p in wants]
    # --8<-- [end:routes]

    async def _subscribe(self, unique=..., generation=None):
        """Holds exactly the rules we want on `unique` (None: no parent; left out: the parent we
        subscribed to last, after a change of what we want). The new rules are added before the old
        ones go, so that widening misses nothing. False if the parent changed meanwhile."""
        async with self._rules_lock:
            if generation is not None and generation != self._generation:
                return False
            if unique is ...:
                unique = self._subscribed_to
            self._subscribed_to = unique
            rules = self.subscription_rules(unique) if unique else []
            held = list(self._rules)
            try:
                for rule in rules:
                    if rule not in held:
                        await self.add_match(rule)
                        held.append(rule)
                for rule in list(held):
                    if rule not in rules:
                        await self.remove_match(rule)
                        held.remove(rule)
            finally:
                self._rules = held                    # what the bus holds for us, even after a refusal
            return True

    def _resubscribe(self):
        """After a change of what we want (a handler added): the rules follow."""
        if self._rules_lock is not None:
            self.spawn(self._subscribe())

    async def _widen(self):
        """Takes everything from now on: before the first child is answered (it may want anything)."""
        if self._wide:
            return
        narrow = self.wants() is not None
        self._wide = True
        if narrow:                                    # what we passed down before, we took narrowly
            log('info', 'taking every message from the parent now (a child attached)')
            await self._subscribe()
            # Only now: a message routed to us narrowly before the daemon had the wide rule arrives
            # before AddMatch's answer, and must not count as the first of the complete part.
            self._ring.widen()

    async def _catch_up(self, generation):
        """Asks the new parent for what came while we had none (docs/protocol.md#replay): Replay when
        we take everything, ReplayRoutes(network, after, our routes) when we take some routes only."""
        wants = self.wants()
        floors = [(n, f) for n, f in self._floors.items() if n not in self._last_seq]
        for network, after in list(self._last_seq.items()) + floors:
            if generation != self._generation:
                return                                # another parent came meanwhile: its catch-up asks
            how = 'Replay' if wants is None else 'ReplayRoutes'
            try:
                if wants is not None:
                    try:
                        missed, complete = await self.call(self.parent_unique, how, 'stas', (network, after, wants))
                    except HiveError as err:
                        if err.dbus_name not in UNKNOWN_METHOD:
                            raise
                        how = 'Replay'                # a parent from before routes: all of it, filtered below
                if how == 'Replay':
                    missed, complete = await self.call(self.parent_unique, 'Replay', 'st', (network, after))
            except HiveError as err:
                if generation != self._generation or err.dbus_name in PARENT_GONE:
                    # The parent went before it answered: nothing is lost yet, and the number did not
                    # move, so the next parent replays from it. What the dead parent sent live meanwhile
                    # would move the number past the gap: the next parent replays that too.
                    log('warn', 'parent gone during the catch-up; the next parent will replay', network=network, after=after)
                    if generation == self._generation:
                        self._held = []
                    return
                self.counters['lost'] += 1
                log('error', 'replay failed; messages may have been missed', network=network, reason=err.text)
                continue
            if not complete:
                self.counters['lost'] += 1
                log('error', "messages lost: the parent's replay buffer no longer reaches back", network=network, after=after)
            if missed:
                log('info', 'caught up from replay', network=network, count=len(missed), how=how)
            for wire in missed:
                wire[1]['hive.replayed'] = Variant('b', True)
                self._from_parent(wire, None, live=False)   # a replayed message has no route: worked out

    def _learn_floors(self, answer):
        """Takes the parent's last numbers from Attach's answer, checked as saved numbers are (an
        integer, not negative, not from the future; at most MAX_SEQ_NETWORKS networks); counts the rest."""
        future = (time.time() + SEQ_FUTURE) * 1_000_000
        refused = 0
        for network, n in answer.items():
            if (not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= future or not isinstance(network, str)
                    or not network or len(network) > 256
                    or (network not in self._floors and len(self._floors) >= MAX_SEQ_NETWORKS)):
                refused += 1
                continue
            self._floors[network] = n
        if refused:
            self.counters['seq_refused'] = self.counters.get('seq_refused', 0) + refused
            log('warn', 'Attach answered hive.seq numbers that cannot be (not numbers, from the future, too many networks); ignored',
                parent=self.parent, refused=refused)

    def _load_seq(self):
        if not self.env.state_dir:
            return {}
        try:
            with open(os.path.join(self.env.state_dir, '.hive-seq.json')) as f:
                saved = json.load(f)
        except FileNotFoundError:
            return {}                                 # first start
        except (OSError, ValueError) as err:
            log('warn', 'saved sequence numbers unreadable; starting without them', reason=str(err))
            return {}
        future = (time.time() + SEQ_FUTURE) * 1_000_000
        if not isinstance(saved, dict):
            return {}
        return {k: v for k, v in saved.items() if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= future}

    def _save_seq(self):
        """Crash-safe: write a temporary file, fsync, rename over the old one."""
        self._seq_timer = None
        if not self.env.state_dir:
            return
        path = os.path.join(self.env.state_dir, '.hive-seq.json')
        try:
            with open(path + '.tmp', 'w') as f:
                json.dump(self._last_seq, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(path + '.tmp', path)
        except OSError as err:
            log('warn', 'cannot save sequence numbers', reason=str(err))

    # -- everything that arrives on the connection -------------------------------------------------
    def _on_bus_message(self, msg):
        """dbus-next calls this for every message; True means 'handled, do not answer for me'."""
        if msg.message_type == MessageType.SIGNAL:
            if msg.sender == 'org.freedesktop.DBus' and msg.member == 'NameOwnerChanged':
                self._on_name_owner_changed(*msg.body)
            elif msg.interface == NODE_IFACE and msg.sender == self.parent_unique and self.parent_unique:
                self._on_parent_signal(msg)          # only our parent's: anyone can send us a signal
            return None
        if msg.message_type == MessageType.METHOD_CALL and msg.path in (NODE_PATH, '/', '/org', '/org/hive') \
                and msg.interface != 'org.freedesktop.DBus.Peer':   # dbus-next answers Ping itself
            self.spawn(self._serve(msg))
            return True
        return None

    def _on_name_owner_changed(self, name, old, new):
        if name in self.children and not new:
            log('info', 'child vanished', child=self.children.pop(name))
            self.spawn(self.remove_match(self.owner_rule(name)))
        if name != self.parent or self._stopping:
            return
        if not new:                                   # the parent is gone: wait for it
            if self.parent_unique:
                self.spawn(self._subscribe(None))
                self.parent_unique = None
                self._generation += 1
                self._attached.clear()
                log('info' if self._parent_leaving else 'warn', 'parent gone' if self._parent_leaving else 'parent lost', parent=name)
            self._parent_leaving = False
        elif new != self.parent_unique:               # it came back (restarted): attach to the new owner
            self._generation += 1
            self.parent_unique = None
            self._attached.clear()
            self.spawn(self.attach('NameOwnerChanged'))

    def _on_parent_signal(self, msg):
        if msg.member == 'Message' and msg.signature == 's(aaya{sv})':
            self._from_parent(msg.body[1], msg.body[0])
        elif msg.member == 'Message':                 # not the protocol's: ignored, counted
            self.counters['bad_signals'] = self.counters.get('bad_signals', 0) + 1
        elif msg.member == 'Reparent' and msg.signature == 's':
            to = msg.body[0]
            if not to:                                # the mouth, or a guard that holds: wait for it
                self._parent_leaving = True
                log('info', 'parent going away; waiting for it', parent=self.parent)
                return
            log('info', 'parent asked us to re-parent', to=to)
            self.spawn(self.set_parent(to, named=False))

    # ---- 7. down and up --------------------------------------------------------------------------
    def _from_parent(self, wire, route, live=True):
        """A message from the parent: skip what we do not want or saw already, pass it down, run our
        commands and message handlers. `route`: the key it came with (None: worked out here)."""
        if live and self._held is not None:
            self._held.append((wire, route))
            return
        lines, meta = wire
        if route is None:
            route = route_of(lines, meta, self.env.prefix)
        wants = self.wants()
        if wants is not None and not matches_any(route, wants):
            if live:                                  # a wider rule than ours delivered it: not for us
                self.counters['unwanted'] = self.counters.get('unwanted', 0) + 1
            return
        network, seq = meta.get('hive.network'), meta.get('hive.seq')
        if network is not None and seq is not None and not self._seen_seq(network.value, seq.value):
            return                                    # replay and live traffic overlap
        self.counters['in'] += 1
        nick = meta.get('hive.nick')
        try:
            msg = self.down(HiveMessage(lines, meta, route))
        except Exception as err:                      # a broken hook must not stop the node
            self.counters['errors'] += 1
            log('error', 'down hook failed', reason=repr(err))
            return
        if msg is None:
            self.counters['dropped'] += 1
            return
        if msg.lines != lines or msg.get('hive.nick') != (nick.value if nick is not None else None):
            msg.route = None                          # changed: its route is worked out again
        self.pass_down(msg, msg.route)
        self._run_command(msg)
        self._run_message_handlers(msg)

    def _seen_seq(self, network, n):
        """Whether hive.seq `n` is new, remembering it (docs/protocol.md#replay-and-sequence-numbers)."""
        if n > (time.time() + SEQ_FUTURE) * 1_000_000:
            self.counters['seq_forged'] = self.counters.get('seq_forged', 0) + 1
            log('warn', 'hive.seq from the future: not remembered', network=network, seq=n)
            return True                               # delivered, never remembered nor saved
        last = self._last_seq.get(network)
        if last is None and len(self._last_seq) >= MAX_SEQ_NETWORKS:
            self.counters['seq_untracked'] = self.counters.get('seq_untracked', 0) + 1
            return True                               # bounded: a 65th network is delivered, not remembered
        if last is not None and n <= last:
            if last - n <= SEQ_WINDOW:
                return False                          # already seen
            self.counters['seq_reset'] = self.counters.get('seq_reset', 0) + 1
            log('warn', 'hive.seq went back: a new numbering; starting over from it', network=network, last=last, seq=n)
        self._last_seq[network] = n
        if self._seq_timer is None:
            self._seq_timer = asyncio.get_running_loop().call_later(SEQ_SAVE_DELAY, self._save_seq)
        return True

    def _run_command(self, msg):
        if not self.handlers or not msg.lines:        # a mouth event has no lines
            return
        if msg.get('hive.history') is True:           # a room's history replayed on join: old talk
            return
        parsed = parse_command(to_text(msg.lines[0]), msg.get('hive.nick', ''), self.env.prefix)
        if parsed and parsed[0] in self.handlers:
            self.spawn(self._handle(self.handlers[parsed[0]], Command(self, msg, *parsed)))

    async def _handle(self, handler, cmd):
        try:
            await handler(cmd)
        except Exception as err:
            self.counters['errors'] += 1
            log('error', 'command failed', command=cmd.name, reason=repr(err))

    def _run_message_handlers(self, msg):
        route = msg.route or route_of(msg.lines, msg.meta, self.env.prefix)
        for routes, handler in self.message_handlers:
            if routes is None or matches_any(route, routes):
                try:
                    result = handler(msg)
                    if asyncio.iscoroutine(result):
                        self.spawn(result)            # an async handler: its failure is logged by spawn
                except Exception as err:
                    self.counters['errors'] += 1
                    log('error', 'message handler failed', route=route, reason=repr(err))

    # --8<-- [start:reply]
    async def reply(self, to_msg, target, text):
        """A reply: PRIVMSG to the channel (or speaker), with hive.network and hive.reply_to."""
        lines = [to_bytes(f'PRIVMSG {target} :{part}') for part in text.split('\n') if part.strip()]
        reply = HiveMessage(lines, {})
        reply.set('hive.network', 's', to_msg.get('hive.network'))
        reply.set('hive.reply_to', 's', to_msg.get('hive.id'))
        if to_msg.get('hive.replayed'):
            reply.set('hive.replayed', 'b', True)     # so the mouth sends only one answer to it
        await self.send(reply)

    async def send(self, msg):
        """Sends a message this node made up to its parent, with hive.id, hive.origin, hive.path."""
        self._ids += 1
        msg.meta.setdefault('hive.id', Variant('s', f'{self._id_prefix}-{self._ids}'))
        msg.meta.setdefault('hive.origin', Variant('s', self.name))
        # The parent puts us last on the path; naming ourselves first is what older parents expected.
        origin = msg.meta['hive.origin'].value
        msg.set('hive.path', 'as', [self.name] if origin == self.name else [origin, self.name])
        problem = check_message(msg.lines, msg.meta)
        if problem:
            raise HiveError('InvalidMessage', problem)
        await self._send_up(msg.wire())
    # --8<-- [end:reply]

    async def _send_up(self, wire):
        """Send on the parent; when it went away, waits up to 10 s for the next one and tries once more."""
        try:
            await self._call_send(wire)
        except HiveError as err:
            if err.dbus_name == 'org.hive.Error.NotChild' and not self._stopping:
                await self._regain_place()            # the parent forgot us: attach again, send once more
                try:
                    await self._call_send(wire)
                except HiveError:
                    self.counters['errors'] += 1
                    raise
                self.counters['out'] += 1
                return
            if err.dbus_name not in PARENT_GONE or self._stopping:
                self.counters['errors'] += 1
                raise
            log('warn', 'parent gone while sending; retrying with the next parent', reason=err.text)
            try:
                await asyncio.wait_for(self._attached.wait(), CALL_TIMEOUT)
            except asyncio.TimeoutError:
                self.counters['errors'] += 1
                raise HiveError('NoParent', f"node '{self.name}' found no parent within {CALL_TIMEOUT} s") from None
            wire[1]['hive.replayed'] = Variant('b', True)   # the old parent may have passed it on
            await self._call_send(wire)
        self.counters['out'] += 1

    async def _regain_place(self):
        """Refused as a child (docs/protocol.md#refused-as-a-child): attach again, at once, then with
        backoff; refused more than MAX_REATTACH times within PLACE_WINDOW, exit 3 to be restarted."""
        now = time.monotonic()
        self._refusals = [t for t in self._refusals if now - t < PLACE_WINDOW] + [now]
        self.counters['refused_as_child'] = self.counters.get('refused_as_child', 0) + 1
        n = len(self._refusals)
        if n > MAX_REATTACH:
            log('error', 'refused as a child again and again; giving up this place', parent=self.parent, refusals=n)
            if self.bus.connected:
                await self.bus.send(Message.new_signal(NODE_PATH, NODE_IFACE, 'Reparent', 's', [self._reparent_to()]))
            os._exit(EXIT_LOST_PLACE)
        delay = 0 if n == 1 else REATTACH_BACKOFF * 2 ** (n - 2)
        log('warn', 'refused as a child by the parent; attaching again', parent=self.parent, attempt=n, delay_s=delay)
        await asyncio.sleep(delay)
        self._generation += 1
        self.parent_unique = None
        self._attached.clear()
        if not await self.attach('NotChild'):
            raise HiveError('NotChild', f"node '{self.name}' could not attach again to {self.parent}")

    async def _call_send(self, wire):
        if not self.parent_unique:
            raise HiveError('NoParent', f"node '{self.name}' has no live parent (waiting for {self.parent or 'none'})")
        await self.call(self.parent_unique, 'Send', '(aaya{sv})', (wire,))

    # ---- 8. having children ----------------------------------------------------------------------
    # --8<-- [start:pass_down]
    def pass_down(self, msg, route=None):
        """Adds our name to hive.path, keeps the message for Replay, emits it to the children with its
        route: the one it came with if unchanged, else (None) worked out here (docs/protocol.md#routes)."""
        if route is None:
            route = route_of(msg.lines, msg.meta, self.env.prefix)
        msg.set('hive.path', 'as', msg.get('hive.path', []) + [self.name])
        wire = msg.wire()
        network, seq = msg.get('hive.network'), msg.get('hive.seq')
        if network is not None and seq is not None:
            self._ring.add(network, seq, route, wire)
        if self.children:
            self.counters['out'] += 1
            self.bus.send(Message.new_signal(NODE_PATH, NODE_IFACE, 'Message', 's(aaya{sv})', [route, wire]))
    # --8<-- [end:pass_down]

    async def _attach_child(self, msg, name, token):
        if not NAME_PATTERN.fullmatch(name):
            raise HiveError('InvalidArgs', f"Attach: node name '{name}' is not valid")
        await self._check_attach(msg.sender, name, token)
        await self._widen()                           # before the child is answered: it may want anything
        for unique, child in list(self.children.items()):
            if child == name and unique != msg.sender:
                del self.children[unique]             # the same node again, on a new connection
        self.children[msg.sender] = name
        # Watch the child's connection before confirming, and check it has not gone meanwhile.
        await self.add_match(self.owner_rule(msg.sender))
        if not await self.name_owner(msg.sender):
            self.children.pop(msg.sender, None)
            raise HiveError('Failed', 'caller left during Attach')
        log('info', 'child attached', child=name)

    def _detach_child(self, msg):
        name = self.children.pop(msg.sender, None)
        if name:
            log('info', 'child detached', child=name)
            self.spawn(self.remove_match(self.owner_rule(msg.sender)))

    async def _child_send(self, msg):
        """Send from a child: check it, put the child on the path, let the up hook see it, pass it up."""
        child = self.children.get(msg.sender)
        if child is None:
            self.counters['errors'] += 1
            raise HiveError('NotChild', f"Send: {msg.sender} is not an attached child of '{self.name}'; call Attach first")
        problem = 'the signature must be (aaya{sv})' if msg.signature != '(aaya{sv})' else check_message(*msg.body[0])
        problem = problem or stamp_sender(msg.body[0][1], child)
        if problem:
            self.counters['errors'] += 1
            raise HiveError('InvalidMessage', f'Send: {problem}')
        self.counters['in'] += 1
        up = self.up(HiveMessage(*msg.body[0]), child)
        if up is None:
            self.counters['dropped'] += 1
            raise HiveError('Refused', f"'{self.name}' does not pass this message on")
        try:
            await self._send_up(up.wire())
        except HiveError as err:
            self.counters['dropped'] += 1
            log('warn', 'message from child not delivered', child=child, error=err.dbus_name)
            if not err.dbus_name.startswith('org.hive.Error.'):   # not a Hive error: Failed, naming it
                raise HiveError('Failed', f'{err.dbus_name}: {err.text}') from None
            raise

    def _replay(self, msg, network, after, routes=None):
        member = 'Replay' if routes is None else 'ReplayRoutes'
        if msg.sender not in self.children:
            raise HiveError('NotChild', f"{member}: {msg.sender} is not an attached child of '{self.name}'")
        if routes is not None and (len(routes) > MAX_ROUTES or not all(valid_pattern(p) for p in routes)):
            raise HiveError('InvalidArgs', f'ReplayRoutes: at most {MAX_ROUTES} routes, each a key or a namespace '
                                           'ending in .* (docs/protocol.md#routes)')
        return self._ring.since(network, after, routes)

    # ---- 9. serving calls -------------------------------------------------------------------------
    async def _serve(self, msg):
        """Answers a method call made to us; a HiveError becomes a D-Bus error reply."""
        try:
            signature, body = await self._answer(msg)
            reply = Message.new_method_return(msg, signature, body)
        except HiveError as err:
            reply = Message.new_error(msg, err.dbus_name, err.text)
        except Exception as err:                      # a bug: say so, keep serving
            self.counters['errors'] += 1
            log('error', 'call failed', member=msg.member, reason=repr(err))
            reply = Message.new_error(msg, 'org.hive.Error.Failed', repr(err))
        self.bus.send(reply)

    async def _answer(self, msg):
        call = (msg.interface, msg.member, msg.signature)
        if msg.path != NODE_PATH:
            if msg.member == 'Introspect':             # '/', '/org', '/org/hive' list the way to our object
                above = msg.path.rstrip('/')
                if NODE_PATH.startswith(above + '/'):
                    child = NODE_PATH[len(above) + 1:].split('/')[0]
                    return 's', [f'<node><node name="{child}"/></node>']
                return 's', ['<node/>']                 # a path off the way: nothing there
            raise HiveError('InvalidArgs', f'no object at {msg.path}')
        if msg.interface == NODE_IFACE and msg.member == 'Send':
            await self._child_send(msg)
            return '', []
        if call == (NODE_IFACE, 'Attach', 'ss'):
            await self._attach_child(msg, *msg.body)
            return 'a{st}', [self._ring.last_numbers()]     # read after the child's rules: later numbers reach it live
        if call == (NODE_IFACE, 'Detach', ''):
            self._detach_child(msg)
            return '', []
        if call == (NODE_IFACE, 'Replay', 'st'):
            return 'a(aaya{sv})b', list(self._replay(msg, *msg.body))
        if call == (NODE_IFACE, 'ReplayRoutes', 'stas'):
            return 'a(aaya{sv})b', list(self._replay(msg, *msg.body))
        # --8<-- [start:setparent]
        if call == (NODE_IFACE, 'SetParent', 'ss'):
            parent, token = msg.body
            await self._check_set_parent(msg.sender, token)
            log('info', 'SetParent', to=parent)
            if not await self.set_parent(parent):
                raise HiveError('NoParent', f'{parent} is not on the bus; attaching when it comes')
            return '', []
        # --8<-- [end:setparent]
        if call == (PROPS_IFACE, 'Get', 'ss') and msg.body[0] == NODE_IFACE and msg.body[1] in self.properties():
            return 'v', [self.properties()[msg.body[1]]]
        if call == (PROPS_IFACE, 'GetAll', 's') and msg.body[0] == NODE_IFACE:
            return 'a{sv}', [self.properties()]
        if call == ('org.freedesktop.DBus.Introspectable', 'Introspect', ''):
            return 's', [INTROSPECTION]
        raise HiveError('InvalidArgs', f'{msg.interface}.{msg.member}({msg.signature}) is not served here')

    # -- credentials (docs/protocol.md#credentials) -----------------------------------------------
    # Without HIVE_VOUCH (nodes started by hand with one shared token): the token must be ours.
    # With HIVE_VOUCH=1 (every node the supervisor starts holds a credential of its own): Attach
    # only from the connection that owns the name's bus name AND with a credential the supervisor
    # vouches for (Supervisor1.Vouch); SetParent only from the supervisor's connection.
    async def _check_attach(self, sender, name, token):
        if not self.env.vouch:
            return self._check_token(sender, 'Attach', token)
        if await self.name_owner(f'org.hive.{self.env.instance}.{name}') != sender:
            self._refuse('bad_token', sender, 'Attach', f"Attach: the caller {sender} does not own the bus name of '{name}'")
        now = time.monotonic()
        if self._vouched.get((name, token), 0) > now:
            return
        try:
            ok, = await self.call(self.supervisor, 'Vouch', 'ss', (name, token), path='/org/hive/Supervisor',
                                  interface='org.hive.Supervisor1', timeout=VOUCH_TIMEOUT)
        except HiveError as err:
            if err.dbus_name == 'org.hive.Error.Timeout':
                raise HiveError('Timeout', f"Attach: the supervisor did not vouch for '{name}' in time; try again") from None
            ok = False
        if ok is not True:
            self._refuse('bad_token', sender, 'Attach', f"Attach: the supervisor does not vouch for this credential as '{name}'s")
        if len(self._vouched) >= VOUCH_CACHE:       # bounded: the oldest pair goes
            del self._vouched[next(iter(self._vouched))]
        self._vouched[(name, token)] = now + VOUCH_TTL

    async def _check_set_parent(self, sender, token):
        if not self.env.vouch:
            return self._check_token(sender, 'SetParent', token)
        if await self.name_owner(self.supervisor) != sender:     # the token is not looked at
            self._refuse('not_authorized', sender, 'SetParent', f'SetParent: only the supervisor ({self.supervisor}) moves a node')

    async def _check_parent(self, unique, how):
        """Whether to attach to `unique`, a parent the supervisor did not name. In vouch mode only when
        Supervisor1.CheckParent(our name, unique) says it is one of our configured ancestors: a
        squatter on a dead parent's name, or a parent sending us elsewhere, gets no Attach."""
        if not self.env.vouch:
            return True
        try:
            ok, = await self.call(self.supervisor, 'CheckParent', 'ss', (self.name, unique), path='/org/hive/Supervisor',
                                  interface='org.hive.Supervisor1', timeout=CHECK_PARENT_TIMEOUT)
            reason = 'the supervisor does not know it as an ancestor'
        except HiveError as err:                      # no answer, or a supervisor without CheckParent: a no
            ok, reason = False, f'no answer from the supervisor ({err.dbus_name})'
        if ok is True:
            return True
        try:
            self._refuse('parent_refused', unique, how, reason,
                         log_text='not following this parent: the supervisor did not approve it; waiting for its SetParent')
        except HiveError:
            pass
        return False

    def _check_token(self, sender, member, token):
        if token != self.env.token:
            self._refuse('bad_token', sender, member, 'the token does not match this hive')

    def _refuse(self, counter, sender, member, text, log_text=None):
        """Counts a refused caller, logs it at most 5 times a minute per caller, raises the named error."""
        self.counters[counter] = self.counters.get(counter, 0) + 1
        key, now = f'{counter}:{sender}', time.monotonic()
        start, logged = self._refusal_log.get(key, (now, 0))
        if now - start >= 60:
            start, logged = now, 0
        if logged < 5:
            if len(self._refusal_log) >= 1024:      # bounded: forget the oldest caller
                del self._refusal_log[next(iter(self._refusal_log))]
            log('warn', log_text or f'{member} refused', caller=sender, reason=text)
        self._refusal_log[key] = (start, logged + 1)
        raise HiveError('BadToken' if counter == 'bad_token' else 'NotAuthorized', text)

    # --8<-- [start:properties]
    def properties(self):
        """org.hive.Node1's properties: `hive tree`, `help` and aggregators read them."""
        return {
            'Name': Variant('s', self.name),
            'Kind': Variant('s', self.kind),
            'Parent': Variant('s', self.parent),
            'Children': Variant('a(ss)', [[name, unique] for unique, name in self.children.items()]),
            'Commands': Variant('a(ss)', [list(c) for c in self.commands]),
            'Counters': Variant('a{st}', dict(self.counters)),
            'Details': Variant('a{sv}', {k: detail_variant(v) for k, v in self.details().items()}),
        }
    # --8<-- [end:properties]

    # ---- 10. leaving -------------------------------------------------------------------------------
    # --8<-- [start:leave]
    async def _leave(self):
        """SIGTERM: tell the children where to go, detach, release the name, close the connection."""
        self._stopping = True
        await self.bus.send(Message.new_signal(NODE_PATH, NODE_IFACE, 'Reparent', 's', [self._reparent_to()]))
        if self.parent_unique:
            try:
                await self.call(self.parent_unique, 'Detach', timeout=1.0)
            except HiveError:
                pass                                  # the parent is going too: closing is enough
        if self._seq_timer is not None:
            self._seq_timer.cancel()
            self._save_seq()
        try:
            await self.bus_call('ReleaseName', 's', self.bus_name)
        except HiveError:
            pass
        self.bus.disconnect()
        log('info', 'node stopped')
    # --8<-- [end:leave]

    def _reparent_to(self):
        """Our own parent, or '' with HIVE_ON_DEATH=hold: then the children wait for us."""
        return '' if self.env.hold_on_death else self.parent


def detail_variant(value):
    """A Details value: str, bool, int, float, a list of str, or counts by name."""
    if isinstance(value, bool):
        return Variant('b', value)
    if isinstance(value, str):
        return Variant('s', value)
    if isinstance(value, int):
        return Variant('x', value)
    if isinstance(value, float):
        return Variant('d', value)
    if isinstance(value, dict):
        return Variant('a{sx}', {str(k): int(v) for k, v in value.items()})
    return Variant('as', [str(v) for v in value])


INTROSPECTION = """<node>
  <interface name="org.hive.Node1">
    <method name="Send"><arg name="message" type="(aaya{sv})" direction="in"/></method>
    <method name="Attach"><arg name="name" type="s" direction="in"/><arg name="token" type="s" direction="in"/>
      <arg name="last_seqs" type="a{st}" direction="out"/></method>
    <method name="Detach"/>
    <method name="SetParent"><arg name="parent" type="s" direction="in"/><arg name="token" type="s" direction="in"/></method>
    <method name="Replay"><arg name="network" type="s" direction="in"/><arg name="after" type="t" direction="in"/>
      <arg name="messages" type="a(aaya{sv})" direction="out"/><arg name="complete" type="b" direction="out"/></method>
    <method name="ReplayRoutes"><arg name="network" type="s" direction="in"/><arg name="after" type="t" direction="in"/>
      <arg name="routes" type="as" direction="in"/>
      <arg name="messages" type="a(aaya{sv})" direction="out"/><arg name="complete" type="b" direction="out"/></method>
    <signal name="Message"><arg name="route" type="s"/><arg name="message" type="(aaya{sv})"/></signal>
    <signal name="Reparent"><arg name="parent" type="s"/></signal>
    <property name="Name" type="s" access="read"/>
    <property name="Kind" type="s" access="read"/>
    <property name="Parent" type="s" access="read"/>
    <property name="Children" type="a(ss)" access="read"/>
    <property name="Commands" type="a(ss)" access="read"/>
    <property name="Counters" type="a{st}" access="read"/>
    <property name="Details" type="a{sv}" access="read"/>
  </interface>
  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get"><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="v" direction="out"/></method>
    <method name="GetAll"><arg type="s" direction="in"/><arg type="a{sv}" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect"><arg type="s" direction="out"/></method>
  </interface>
</node>
"""
