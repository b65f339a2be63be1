"""hive_testing (protocol/sdk/python/hive_testing.py) itself, under unittest: run by
test/testing/python-harness.test.ts. A real hive with ping and echo: replies and their metadata,
refusals by name, a kill -9 and a restart of the mouth seen through it, stop/start, the tree, and a
teardown that leaves no process and no temp dir, even when the test process dies without close()."""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

from hive_testing import TestHive, TestHiveError


def alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            stat = f.read()
        return stat[stat.rindex(')') + 2] != 'Z'
    except OSError:
        return False


class WithPingAndEcho(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hive = TestHive(plugins=[{'name': 'ping', 'use': 'ping'}, {'name': 'echo', 'use': 'echo'}]).up()

    @classmethod
    def tearDownClass(cls):
        cls.hive.close()

    def test_a_reply_with_its_target_and_metadata(self):
        r = self.hive.say('!ping')
        self.assertEqual((r.text, r.lines, r.target, r.command, r.origin), ('pong', ['pong'], '#test', 'PRIVMSG', 'ping'))
        self.assertEqual(r.meta['hive.network'], 'test')
        self.assertEqual(r.meta['hive.reply_to'], r.reply_to)
        self.assertEqual(self.hive.say('!echo elsewhere', as_='bob', in_='#other').target, '#other')
        self.assertEqual(self.hive.say('echo psst', as_='carol', in_='hive').target, 'carol')
        self.assertIn('PRIVMSG carol :psst', [s['sent'] for s in self.hive.sent])

    def test_no_reply_and_refusals_are_named(self):
        self.assertEqual(self.hive.say_all('just talk', quiet=0.2), [])
        with self.assertRaises(TestHiveError) as e:
            self.hive.say('just talk', timeout=0.3)
        self.assertEqual(e.exception.code, 'NoReply')
        for bad in (lambda: self.hive.say('two\nlines'), lambda: self.hive.say('!ping', in_='somebody-else'), lambda: self.hive.line('PRIVMSG')):
            with self.assertRaises(TestHiveError) as e:
                bad()
            self.assertEqual(e.exception.code, 'Refused')
        self.assertTrue(self.hive.line(':dave!d@example JOIN #test').startswith('mouth-'))
        before = len(self.hive.refused)
        self.assertIn('CtcpNotAllowed', self.hive.say('!echo \x01VERSION\x01').text)
        self.assertEqual([r['refused'] for r in self.hive.refused[before:]], ['CtcpNotAllowed'])

    def test_kill_stop_start_and_the_tree(self):
        self.hive.say('!ping')
        before = self.hive.node('ping')
        time.sleep(0.2)     # ping has saved where it is (at most 100 ms after a message)
        pid = self.hive.kill('ping', wait=False)
        self.assertEqual(pid, before['pid'])
        self.assertFalse(alive(pid))
        self.assertEqual(self.hive.say('!ping', timeout=20).text, 'pong')    # said while down: replayed
        self.assertEqual(self.hive.node('ping')['restarts'], before['restarts'] + 1)
        again = self.hive.kill('ping')     # by default, back and attached when it returns
        after = self.hive.node('ping')
        self.assertEqual((after['state'], after['restarts']), ('running', before['restarts'] + 2))
        self.assertNotEqual(after['pid'], again)
        self.assertEqual(self.hive.say('!ping').text, 'pong')
        self.hive.stop('echo')
        self.assertEqual(self.hive.node('echo')['state'], 'stopped')
        self.hive.start('echo')
        self.hive.ready('echo')
        self.assertEqual(self.hive.say('!echo back').text, 'back')
        tree = self.hive.tree()
        self.assertEqual(tree['instance'], self.hive.instance)
        self.assertEqual(sorted(n['name'] for n in tree['nodes']), ['echo', 'mouth', 'ping'])
        with self.assertRaises(TestHiveError) as e:
            self.hive.kill('nobody')
        self.assertEqual(e.exception.code, 'NoSuchNode')

    def test_zz_the_mouth_restarts_and_the_socket_follows(self):
        self.hive.kill('mouth', wait=False)
        try:
            r = self.hive.say('!ping', timeout=20)
        except TestHiveError as e:
            if e.code != 'Closed':
                raise
            r = self.hive.say('!ping', timeout=20)
        self.assertEqual(r.text, 'pong')


class WithAShellNode(unittest.TestCase):
    def test_it_is_known_to_be_back_after_a_kill_9_by_its_parents_word(self):
        here = os.path.dirname(os.path.abspath(__file__))
        responder = os.path.join(here, '..', '..', 'plugins', 'examples', 'shell', 'responder.sh')
        with TestHive(plugins=[{'name': 'shping', 'exec': ['bash', responder]}]) as hive:
            self.assertEqual(hive.say('!shping hi').text, 'shpong hi')
            pid = hive.kill('shping')
            self.assertNotEqual(hive.node('shping')['pid'], pid)
            self.assertEqual(hive.say('!shping again').text, 'shpong again')


class SetUpAndTeardown(unittest.TestCase):
    def test_a_hive_that_cannot_start_says_why(self):
        with self.assertRaises(TestHiveError) as e:
            TestHive(plugins=[{'name': 'x', 'use': 'no-such-plugin'}], start_timeout=20).up()
        self.assertEqual(e.exception.code, 'StartFailed')
        self.assertIn('no-such-plugin', str(e.exception))

    def test_close_leaves_nothing_and_may_be_called_twice(self):
        hive = TestHive(plugins=[{'name': 'ping', 'use': 'ping'}]).up()
        pids = [n['pid'] for n in hive.tree()['nodes']]
        hive.close()
        hive.close()
        self.assertEqual([p for p in pids if alive(p)], [])
        self.assertFalse(os.path.exists(hive.dir))
        with self.assertRaises(TestHiveError) as e:
            hive.say('!ping')
        self.assertEqual(e.exception.code, 'Closed')

    def test_a_test_process_that_dies_without_close_takes_its_hive_along(self):
        for how in ('exit', 'kill -9'):
            script = ('import json, os, sys, time\n'
                      'from hive_testing import TestHive\n'
                      "hive = TestHive(plugins=[{'name': 'ping', 'use': 'ping'}]).up()\n"
                      "print(json.dumps({'dir': hive.dir, 'pids': [n['pid'] for n in hive.tree()['nodes']]}), flush=True)\n"
                      + ('sys.exit(0)\n' if how == 'exit' else 'time.sleep(60)\n'))
            child = subprocess.Popen([sys.executable, '-c', script], stdout=subprocess.PIPE, env=os.environ)
            out = json.loads(child.stdout.readline())
            if how == 'kill -9':
                child.send_signal(signal.SIGKILL)
            child.wait(30)
            child.stdout.close()
            deadline = time.monotonic() + 20
            while (any(alive(p) for p in out['pids']) or os.path.exists(out['dir'])) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertEqual(([p for p in out['pids'] if alive(p)], os.path.exists(out['dir'])), ([], False), how)


if __name__ == '__main__':
    unittest.main()
