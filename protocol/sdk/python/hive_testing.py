"""hive_testing: a real hive for a Python plugin's tests (unittest or pytest; standard library only).

    from hive_testing import TestHive

    with TestHive(plugins=[{'name': 'pyresp', 'exec': ['/usr/bin/python3', 'responder.py']}]) as hive:
        r = hive.say('!pyping')                 # the first reply to that line
        assert r.text == 'pong from python'
        hive.kill('pyresp')                     # kill -9; the supervisor starts it again

It runs `hive up` (the `hive` of this checkout: $HIVE_BIN, else the bin/hive three folders up from
this file, else `hive` on the PATH) with a generated config in a temp dir: a private bus, the mouth
with one scripted network (`type: script`, docs/config.md) and your plugins as real processes. It
speaks on that network's unix socket as any user, in any channel, and reads every line the bot
sends with its metadata. It is the twin of `hive/testing` for TypeScript
(tree-supervisor/testing.ts): same names (say_all for sayAll, as_ and in_ for as and in), same behaviour.

Teardown cannot be forgotten: `hive up` runs under a small sh watchdog that stops it when a pipe
from this process ends, which it does however this process ends (kill -9 too); at exit, a hive not
closed yet is killed and its temp dir removed.
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

__all__ = ['TestHive', 'TestHiveError', 'Reply']

WATCHDOG = '''dir=$1; shift
exec 3<&0
"$@" </dev/null 3<&- &
pid=$!
( while read -r _; do :; done <&3; kill -TERM "$pid" 2>/dev/null ) &
w=$!
wait "$pid"; code=$?
kill "$w" 2>/dev/null
rm -rf "$dir"
exit "$code"'''
"""`sh -c WATCHDOG hive-watchdog DIR COMMAND...`: runs COMMAND (hive up), SIGTERMs it when stdin
ends and removes DIR once it has exited. A non-interactive sh gives a background job /dev/null as
stdin, so the pipe is kept on fd 3 and read there."""

LOG_KEEP = 20000
_live = set()
_count = [0]


@atexit.register
def _at_exit():
    # At once: hive up dies, its private bus with it (PDEATHSIG), and the nodes with their bus.
    for hive in list(_live):
        hive._kill_group()
        shutil.rmtree(hive.dir, ignore_errors=True)


class TestHiveError(Exception):
    """`code` says what went wrong: StartFailed, NoReply, Timeout, Refused, NoSuchNode, Closed, CliFailed."""
    __test__ = False   # not a test class, whatever pytest thinks of the name

    def __init__(self, code, message):
        super().__init__(f'{code}: {message}')
        self.code = code


class Reply:
    """One message the bot sent: `text` (its lines' texts joined with \\n), `lines`, `target`,
    `command`, `origin` (the node that made it), `reply_to`, `meta`, and `sent` (the raw records)."""

    def __init__(self, records):
        self.sent = records
        self.lines = [r['text'] if r.get('text') is not None else r['sent'] for r in records]
        self.text = '\n'.join(self.lines)
        first = records[0]
        self.target = first.get('target', '')
        self.command = first.get('command', '')
        self.origin = first.get('origin')
        self.reply_to = first.get('reply_to')
        self.meta = first.get('meta', {})

    def __repr__(self):
        return f'Reply(text={self.text!r}, target={self.target!r}, origin={self.origin!r})'


def _hive_bin():
    if os.environ.get('HIVE_BIN'):
        return os.environ['HIVE_BIN']
    here = os.path.dirname(os.path.abspath(__file__))
    near = os.path.normpath(os.path.join(here, '..', '..', '..', 'bin', 'hive'))
    if os.path.exists(near):
        return near
    found = shutil.which('hive')
    if found:
        return found
    raise TestHiveError('StartFailed', f'no bin/hive near {here} and no hive on the PATH; set HIVE_BIN')


class TestHive:
    """A hive for one test (or one test class): `with TestHive(plugins=[...]) as hive:`, or
    `hive = TestHive(...).up()` in setUpClass and `hive.close()` in tearDownClass."""
    __test__ = False   # not a test class, whatever pytest thinks of the name

    def __init__(self, plugins, cwd=None, command_prefix=None, nick='hive', channel='#test',
                 timeout=10.0, start_timeout=30.0, log_level='info', config=None, env=None):
        self.plugins = plugins
        self.cwd = os.path.abspath(cwd or os.getcwd())
        self.command_prefix = command_prefix
        self.nick = nick
        self.channel = channel
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.log_level = log_level
        self.extra_config = config or {}
        self.extra_env = env or {}
        self.sent = []          # every line the bot sent (dicts: sent, command, target, text, reply_to, origin, meta, ...)
        self.refused = []       # what the mouth refused to send (refused: the code, origin, lines)
        self.logs = []          # the hive's log lines (dicts: node, msg, ...), the last 20,000
        self._cond = threading.Condition()
        self._acks = {}
        self._ids = 0
        self._sock = None
        self._closing = False
        self._closed = False
        self._proc = None
        self._readers = []
        self.dir = None

    # ---- starting and stopping the hive

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc):
        self.close()
        return False

    def up(self):
        """Starts the hive and returns once every plugin has attached (StartFailed if it cannot)."""
        self.dir = tempfile.mkdtemp(prefix='hive-test-')
        _count[0] += 1
        self.instance = f'p{os.getpid()}_{_count[0]}'
        self.socket_path = os.path.join(self.dir, 'script.sock')
        self.config_file = os.path.join(self.dir, 'hive.yaml')
        self.runtime_dir = os.path.join(self.dir, 'run')
        plugins = []
        for p in self.plugins:
            p = dict(p)
            if 'exec' in p:
                p['cwd'] = os.path.normpath(os.path.join(self.cwd, p.get('cwd', '.')))
            if isinstance(p.get('dir'), str):                # a plugin folder: the test's, like exec
                p['dir'] = os.path.normpath(os.path.join(self.cwd, p['dir']))
            plugins.append(p)
        config = {'instance': self.instance, 'bus': 'private', 'state_dir': os.path.join(self.dir, 'state'),
                  'log_level': self.log_level}
        if self.command_prefix is not None:
            config['command_prefix'] = self.command_prefix
        config.update(self.extra_config)
        config['networks'] = {'test': {'type': 'script', 'socket': self.socket_path, 'nick': self.nick, 'channel': self.channel}}
        config['plugins'] = plugins
        with open(self.config_file, 'w') as f:
            json.dump(config, f, indent=2)     # JSON is YAML
        self.env = dict(os.environ, **self.extra_env, HIVE_RUNTIME_DIR=self.runtime_dir, HIVE_LOG_FORMAT='json')
        self._bin = _hive_bin()
        self._proc = subprocess.Popen(['sh', '-c', WATCHDOG, 'hive-watchdog', self.dir, self._bin, 'up', '--config', self.config_file],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      env=self.env, start_new_session=True)
        _live.add(self)
        self._readers = [threading.Thread(target=self._read_logs, args=(stream,), daemon=True) for stream in (self._proc.stderr, self._proc.stdout)]
        for t in self._readers:
            t.start()
        threading.Thread(target=self._watch_exit, daemon=True).start()
        try:
            self._until(lambda: self._ready_or_exited(), self.start_timeout,
                        lambda: f'the hive was not ready within {self.start_timeout} s:\n{self._tail()}', 'StartFailed')
            self._until(lambda: self._connect(), 10.0, lambda: f'cannot connect to {self.socket_path}:\n{self._tail()}', 'StartFailed')
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        """Stops the hive and removes its temp dir; safe to call twice."""
        if self._closed or self._proc is None:
            return
        self._closed = True
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._sock:
            try:
                self._sock.close()
            except OSError:
                pass
        if self._proc.poll() is None:
            self._proc.stdin.close()    # the watchdog's cue: SIGTERM to hive up, which stops everything in order
            try:
                self._proc.wait(20)
            except subprocess.TimeoutExpired:
                self._kill_group()
                self._proc.wait(5)
        self._kill_group()              # what is left of the group (a node that ignored SIGTERM)
        for t in self._readers:
            t.join(5)
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            stream.close()
        _live.discard(self)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _kill_group(self):
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # ---- speaking and reading

    def say(self, text, as_=None, in_=None, timeout=None):
        """Says `text` (as `as_`, default alice, in `in_`: a channel, default #test, or the bot's
        nick for a private message) and returns the first Reply to it."""
        return self.reply_to(self.post(text, as_=as_, in_=in_), timeout)

    def say_all(self, text, as_=None, in_=None, quiet=0.5, timeout=None):
        """Says `text` and returns every Reply to it that came before `quiet` seconds passed without one."""
        hive_id = self.post(text, as_=as_, in_=in_)
        deadline = time.monotonic() + (timeout or self.timeout)
        count, since = -1, time.monotonic()
        while True:
            with self._cond:
                replies = self._replies_to(hive_id)
                if len(replies) != count:
                    count, since = len(replies), time.monotonic()
                now = time.monotonic()
                if now - since >= quiet or now >= deadline:
                    return replies
                self._cond.wait(0.02)

    def post(self, text, as_=None, in_=None):
        """Says `text` without waiting for a reply; returns the line's hive.id (for reply_to)."""
        body = {'say': text}
        if as_ is not None:
            body['as'] = as_
        if in_ is not None:
            body['in'] = in_
        return self._request(body)

    def line(self, raw):
        """A raw line from the server (':bob!b@h JOIN #test'); returns its hive.id."""
        return self._request({'line': raw})

    def reply_to(self, hive_id, timeout=None):
        """The first Reply to the line of that hive.id."""
        timeout = timeout or self.timeout
        try:
            return self._until(lambda: (self._replies_to(hive_id) or [None])[0], timeout, lambda: '', 'NoReply')
        except TestHiveError as err:
            if err.code != 'NoReply':
                raise
            raise TestHiveError('NoReply', self._no_reply(f'no reply to {hive_id} within {timeout} s')) from None

    def wait_for(self, pred, timeout=None):
        """The first line the bot sent (so far or from now) for which pred(record) is true."""
        timeout = timeout or self.timeout
        return self._until(lambda: next((s for s in self.sent if pred(s)), None), timeout,
                           lambda: 'no line the bot sent matched; it sent:\n' + '\n'.join(f'  {s["sent"]}' for s in self.sent[-10:]))

    # ---- the tree

    def tree(self):
        """What `hive tree --json` gives: {'instance': ..., 'nodes': [...]}."""
        return json.loads(self._cli('tree', '--json'))

    def node(self, name):
        for n in self.tree()['nodes']:
            if n['name'] == name:
                return n
        raise TestHiveError('NoSuchNode', f"no node '{name}' in the hive")

    def kill(self, name, wait=True):
        """kill -9 the node's process and return its pid. The supervisor starts it again; returns
        once it runs and has attached again, or with wait=False as soon as the supervisor has seen
        it die (to say things while it is down: it is caught up by replay once back, if it had
        saved where it was, which a node does 100 ms after a message at most)."""
        n = self.node(name)
        if not n.get('pid') or n['state'] != 'running':
            raise TestHiveError('NoSuchNode', f"node '{name}' has no running process (state {n['state']})")
        pid = n['pid']
        os.kill(pid, signal.SIGKILL)

        def seen():
            m = self.node(name)
            return True if m['pid'] != pid or m['state'] != 'running' else None
        self._until(seen, self.timeout, lambda: f'the supervisor did not see {name} (pid {pid}) die', poll=0.05)
        if wait:
            self.ready(name)
        return pid

    def stop(self, name):
        self._cli('stop', name)

    def start(self, name):
        self._cli('start', name)

    def restart(self, name):
        self._cli('restart', name)

    def ready(self, name=None, timeout=None):
        """Waits until the node (every node without a name) runs and has attached to its parent since it last started."""
        timeout = timeout or self.timeout

        def attached(n):
            with self._cond:
                logs = list(self.logs)
            started = max([i for i, l in enumerate(logs) if l.get('msg') == 'node started' and l.get('child') == n] or [-1])
            # The node's own 'attached to parent', or its parent's 'child attached' (any SDK) or
            # 'child joined' (a node without a connection of its own: shell).
            return any((l.get('node') == n and l.get('msg') == 'attached to parent')
                       or (l.get('child') == n and l.get('node') != 'supervisor' and l.get('msg') in ('child attached', 'child joined'))
                       for l in logs[started + 1:])

        def check():
            nodes = [n for n in self.tree()['nodes'] if (n['name'] == name if name else n['name'] != 'mouth' and not n.get('remote'))]
            if name and not nodes:
                raise TestHiveError('NoSuchNode', f"no node '{name}' in the hive")
            return True if all(n['state'] == 'running' and attached(n['name']) for n in nodes) else None
        self._until(check, timeout, lambda: f'{name or "the nodes"} not running and attached within {timeout} s:\n{self._tail()}', poll=0.1)

    # ---- inside

    def _cli(self, *args):
        r = subprocess.run([self._bin, *args, '--config', self.config_file], env=self.env, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            code = 'NoSuchNode' if 'no node' in r.stderr.lower() or 'nosuchnode' in r.stderr.lower() else 'CliFailed'
            raise TestHiveError(code, f'hive {" ".join(args)} exited {r.returncode}: {r.stderr.strip()}')
        return r.stdout

    def _until(self, check, timeout, what, code='Timeout', poll=None):
        """Calls check() at each change (log line, line sent) and at least every 50 ms until it
        returns something other than None; raises TestHiveError(code) after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value is not None:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestHiveError(code, what())
            if poll:
                time.sleep(min(poll, left))
            else:
                with self._cond:
                    self._cond.wait(min(0.05, left))

    def _ready_or_exited(self):
        with self._cond:
            if any(l.get('msg') == 'tree ready' for l in self.logs):
                return True
        code = self._proc.poll()
        if code is not None:
            time.sleep(0.1)    # the last lines of stderr
            lines = '\n'.join(f'  {json.dumps(l)}' for l in self.logs[-20:])
            raise TestHiveError('StartFailed', f'hive up exited {code}:\n{lines}')
        return None

    def _read_logs(self, stream):
        for raw in stream:
            text = raw.decode('utf-8', 'replace').strip()
            if not text:
                continue
            try:
                entry = json.loads(text)
                if not isinstance(entry, dict):
                    entry = {'msg': text}
            except ValueError:
                entry = {'msg': text}
            with self._cond:
                self.logs.append(entry)
                if len(self.logs) > LOG_KEEP:
                    del self.logs[:len(self.logs) - LOG_KEEP]
                self._cond.notify_all()

    def _watch_exit(self):
        self._proc.wait()
        with self._cond:
            self._cond.notify_all()

    def _connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.socket_path)
        except OSError:
            s.close()
            return None
        self._sock = s
        threading.Thread(target=self._read_socket, args=(s,), daemon=True).start()
        return True

    def _read_socket(self, s):
        buf = b''
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                chunk = b''
            if not chunk:
                break
            buf += chunk
            while b'\n' in buf:
                raw, buf = buf.split(b'\n', 1)
                try:
                    m = json.loads(raw)
                except ValueError:
                    continue
                with self._cond:
                    if 'sent' in m:
                        self.sent.append(m)
                    elif 'refused' in m:
                        self.refused.append(m)
                    elif m.get('id') in self._acks:
                        self._acks[m['id']] = m
                    self._cond.notify_all()
        s.close()
        with self._cond:
            if self._sock is s:
                self._sock = None
            # Requests the mouth did not answer before it went: they fail with Closed.
            for key, value in self._acks.items():
                if value is None:
                    self._acks[key] = {'error': 'Closed', 'message': 'the mouth went away before answering (it restarts: say it again)'}
            self._cond.notify_all()
        if not self._closing:
            threading.Thread(target=self._reconnect, daemon=True).start()

    def _reconnect(self):
        deadline = time.monotonic() + 60
        while not self._closing and self._sock is None and time.monotonic() < deadline:
            if self._connect():
                return
            time.sleep(0.05)

    def _request(self, body):
        if self._closing:
            raise TestHiveError('Closed', 'the test hive is closed')
        self._until(lambda: self._sock, self.timeout, lambda: 'the script network is not back (is the mouth running?)', 'Closed')
        with self._cond:
            self._ids += 1
            key = f'r{self._ids}'
            self._acks[key] = None
            sock = self._sock
        try:
            sock.sendall((json.dumps(dict(body, id=key)) + '\n').encode())
        except OSError:
            pass            # the reader marks it Closed
        answer = self._until(lambda: self._acks.get(key), self.timeout, lambda: 'the script network did not answer')
        with self._cond:
            del self._acks[key]
        if answer.get('ok'):
            return answer['hive_id']
        if answer.get('error') == 'Closed':
            raise TestHiveError('Closed', answer['message'])
        raise TestHiveError('Refused', f'the script network refused it: {answer.get("error")}: {answer.get("message")}')

    def _replies_to(self, hive_id):
        groups = {}
        for s in self.sent:
            if s.get('reply_to') == hive_id:
                groups.setdefault(s['message'], []).append(s)
        return [Reply(g) for g in groups.values() if g[-1].get('last')]

    def _tail(self, n=15):
        def one(l):
            err = l.get('err')
            return (f"  {l.get('node', '?')}: {l.get('msg')}" + (f" ({l['child']})" if l.get('child') else '')
                    + (f" — {l['why']}" if l.get('why') else '') + (f" — {err.get('message')}" if isinstance(err, dict) else ''))
        with self._cond:
            bad = [l for l in self.logs if isinstance(l.get('level'), int) and l['level'] >= 40]
        return '\n'.join(one(l) for l in bad[-n:])

    def _no_reply(self, what):
        out = [what]
        try:
            down = [n for n in self.tree()['nodes'] if n['state'] != 'running']
            if down:
                out.append('nodes not running:\n' + '\n'.join(f"  {n['name']}: {n['state']}" + (f" ({n['error']})" if n.get('error') else '') for n in down))
        except TestHiveError:
            pass
        if self.sent:
            out.append("the bot's last lines:\n" + '\n'.join(f"  {s['sent']}" for s in self.sent[-5:]))
        if self.refused:
            out.append('refused by the mouth: ' + ', '.join(f"{r['refused']} ({r.get('origin')})" for r in self.refused[-3:]))
        tail = self._tail()
        if tail:
            out.append('warnings and errors:\n' + tail)
        return '\n'.join(out)
