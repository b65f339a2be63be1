"""Tests of responder.py (pyresp) in a real hive, written with hive_testing (unittest; pytest runs
them too). From this folder, with the Hive checkout's Python modules on the path:

    PYTHONPATH=../../../protocol/sdk/python /usr/bin/python3 -m unittest test_responder.py
"""
# --8<-- [start:test]
import os
import unittest

from hive_testing import TestHive

HERE = os.path.dirname(os.path.abspath(__file__))


class ResponderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # One hive for the class: a private bus, the mouth, and the plugin as a real process.
        cls.hive = TestHive(plugins=[{'name': 'pyresp', 'exec': ['/usr/bin/python3', 'responder.py']}], cwd=HERE).up()

    @classmethod
    def tearDownClass(cls):
        cls.hive.close()

    def test_pyping(self):
        r = self.hive.say('!pyping')
        self.assertEqual(r.text, 'pong from python')
        self.assertEqual(r.target, '#test')
        self.assertEqual(r.origin, 'pyresp')

    def test_pyecho_says_it_back_and_explains_bad_input(self):
        self.assertEqual(self.hive.say('!pyecho hello there', as_='bob').text, 'hello there')
        self.assertEqual(self.hive.say('!pyecho').text, 'usage: pyecho TEXT')

    def test_private_message(self):
        r = self.hive.say('pyecho just us', as_='carol', in_=self.hive.nick)
        self.assertEqual((r.target, r.text), ('carol', 'just us'))

    def test_answers_after_kill_9(self):
        self.hive.kill('pyresp')      # returns once the supervisor has started it again and it has attached
        self.assertEqual(self.hive.say('!pyecho still here').text, 'still here')
        self.assertEqual(self.hive.node('pyresp')['restarts'], 1)


if __name__ == '__main__':
    unittest.main()
# --8<-- [end:test]
