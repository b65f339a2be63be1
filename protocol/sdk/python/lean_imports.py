"""lean_imports.py: asyncio and dbus_next for a Hive node, less what an idle node never uses (issue 17).

A Python node's memory is mostly its interpreter and its imports. Two imports cost much and are
used by few plugins, so each is loaded on its first use instead of at start:

  - ssl, with libssl and libcrypto (~4.4 MB PSS a process): asyncio imports it although only TLS
    uses it. asyncio's modules see a stand-in that loads the real module the first time TLS (or
    anything else) needs it, and then puts it in their place; `import ssl` by a plugin is the
    real module, and asyncio's TLS works as before (a test connects through it).
  - dbus_next.glib, with PyGObject and libglib (~4 MB): the dbus_next package imports its GLib
    flavour. A stand-in takes its place until a plugin uses a name of it; then it is loaded, GLib
    included.

Only for Debian's python3 3.11 (the interpreter python3-dbus-next is packaged for): asyncio's use of
ssl is checked against that version's code. On another version, or when asyncio or ssl is already
loaded (a plugin that imports asyncio before hive_node), the imports are plain ones.
"""
import importlib
import importlib.machinery
import sys
import types

# The asyncio modules that bind `ssl` (None when it cannot be imported), and what sslproto derives
# from it at import time: both are restored when the real module comes. Python 3.11's asyncio.
SSL_USERS = ('asyncio.base_events', 'asyncio.selector_events', 'asyncio.sslproto')
SSL_VERSION = (3, 11)


class OnFirstUse(types.ModuleType):
    """Stands in for a module until one of its names is used; then loads the real one and passes
    everything on to it. The import system takes it for an initialised module (it has a __spec__)."""

    def __init__(self, name):
        super().__init__(name)
        self.__spec__ = importlib.machinery.ModuleSpec(name, None)

    def __getattr__(self, attr):       # only for names the stand-in does not have itself
        return getattr(self._real(), attr)

    def _real(self):
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]          # so that the import finds and runs the real one
        return importlib.import_module(self.__name__)


class _NoSSLSocketYet:
    """Nothing is an instance of it: what asyncio's socket check sees while ssl is not loaded."""


class SSLOnFirstUse(OnFirstUse):
    """The ssl module as asyncio's modules see it until TLS is used."""

    def __getattr__(self, attr):
        # asyncio checks every socket it reads or writes with isinstance(sock, ssl.SSLSocket). An
        # SSLSocket can only come from a loaded ssl module: until one is loaded, the answer is no.
        if attr == 'SSLSocket' and 'ssl' not in sys.modules:
            return _NoSSLSocketYet
        return getattr(self._real(), attr)

    def _real(self):
        real = importlib.import_module('ssl')
        for name in SSL_USERS:                       # asyncio uses the real module from now on
            sys.modules[name].ssl = real
        sys.modules['asyncio.sslproto'].SSLAgainErrors = (real.SSLWantReadError, real.SSLSyscallError)
        return real


def load():
    """Imports asyncio and dbus_next (and dbus_next.aio) as lean as this interpreter allows."""
    lean_ssl = sys.version_info[:2] == SSL_VERSION and 'asyncio' not in sys.modules and 'ssl' not in sys.modules
    if 'dbus_next' not in sys.modules and 'dbus_next.glib' not in sys.modules:
        sys.modules['dbus_next.glib'] = OnFirstUse('dbus_next.glib')
    if lean_ssl:
        sys.modules['ssl'] = None                    # asyncio's modules take ssl to be missing...
    try:
        import asyncio  # noqa: F401
        import dbus_next.aio  # noqa: F401
    finally:
        if lean_ssl:
            del sys.modules['ssl']
    if lean_ssl:
        stand_in = SSLOnFirstUse('ssl')              # ...and then get the stand-in instead
        users = [sys.modules[name] for name in SSL_USERS]
        if any(m.__dict__.get('ssl', False) is not None for m in users) or hasattr(users[2], 'SSLAgainErrors'):
            stand_in._real()                         # not the code this was written for: load it now
        else:
            for m in users:
                m.ssl = stand_in
