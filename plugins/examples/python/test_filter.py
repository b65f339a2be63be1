"""Tests of filter.py (pyfilter) in a real hive, written for pytest with hive_testing: one hive for
the module, from a fixture. From this folder, with the Hive checkout's Python modules on the path:

    PYTHONPATH=../../../protocol/sdk/python python3 -m pytest test_filter.py
"""
# --8<-- [start:test]
import os

import pytest

from hive_testing import TestHive

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope='module')
def hive():
    # The filter, echo under it (`parent:`), and an echo beside it for comparison.
    with TestHive(plugins=[
        {'name': 'pyfilter', 'exec': ['/usr/bin/python3', 'filter.py'], 'config': {'word': 'python'}},
        {'name': 'below', 'use': 'echo', 'parent': 'pyfilter'},
        {'name': 'beside', 'use': 'echo'},
    ], cwd=HERE) as h:
        yield h


def test_the_word_is_in_capitals_below_the_filter_only(hive):
    replies = hive.say_all('!echo hi python')
    assert sorted((r.origin, r.text) for r in replies) == [('below', 'hi PYTHON'), ('beside', 'hi python')]


def test_its_children_come_back_under_it_after_a_kill_9(hive):
    hive.kill('pyfilter')
    hive.ready('pyfilter')
    hive.ready('below')
    assert hive.node('below')['parent'] == 'pyfilter'
    assert sorted(r.text for r in hive.say_all('!echo python again')) == ['PYTHON again', 'python again']


def test_a_bad_word_is_refused_at_start():
    with TestHive(plugins=[{'name': 'pyfilter', 'exec': ['/usr/bin/python3', 'filter.py'], 'config': {'word': 'two words'}}], cwd=HERE) as h:
        node = h.node('pyfilter')
        assert node['state'] == 'failed'       # exit 2: not restarted until the config is fixed
# --8<-- [end:test]
