"""The plugin in a real hive (a private bus, a scripted network, the plugin as its own process),
as `hive up` runs it. Run: `python3 -m unittest` in this folder (or pytest): Python tests a shell plugin too."""
import os
import sys
import unittest

# hive_testing comes with Hive, next to its Python SDK (HIVE_PYTHON_PATH: another Hive's).
sys.path.insert(0, os.environ.get('HIVE_PYTHON_PATH') or '@@PYTHON_SDK@@')
from hive_testing import TestHive  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class Test@@CLASS@@(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hive = TestHive(plugins=[{'name': '@@NAME@@', 'dir': HERE, 'config': {'greeting': 'hello'}}])
        cls.hive.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.hive.__exit__(None, None, None)

    def test_says_hello_to_the_name_given(self):
        r = self.hive.say('!@@COMMAND@@ world', as_='alice', in_='#test')
        self.assertEqual(r.text, 'hello, world')
        self.assertEqual(r.target, '#test')

    def test_says_hello_to_whoever_asked(self):
        self.assertEqual(self.hive.say('!@@COMMAND@@', as_='bob').text, 'hello, bob')

    def test_answers_again_after_kill_9(self):
        self.hive.kill('@@NAME@@')   # the supervisor restarts it
        self.assertEqual(self.hive.say('!@@COMMAND@@ again').text, 'hello, again')


if __name__ == '__main__':
    unittest.main()
