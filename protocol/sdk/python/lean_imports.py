"""lean_imports.py: asyncio and dbus_next for a Hive node, less what an idle node never uses (issue 17).

A Python node's memory is mostly its interpreter and its imports. Some of those imports are used by
few plugins or by none, and each of them is loaded on its first use instead of at start:

  - ssl, with libssl and libcrypto (~4.4 MB PSS a process): asyncio imports it although only TLS
    uses it. asyncio's modules see a stand-in that loads the real module the first time TLS (or
    anything else) needs it, and then puts it in their place; `import ssl` by a plugin is the
    real module, and asyncio's TLS works as before (test/examples/python-lean.test.ts).
  - dbus_next.glib, with PyGObject and libglib (~4 MB): the dbus_next package imports its GLib
    flavour. A stand-in takes its place until a plugin uses a name of it; then it is loaded, GLib
    included.
  - subprocess (with locale; ~1 MB in a hive): asyncio imports it for its child processes, and
    takes only its constants PIPE, STDOUT and DEVNULL while it loads; they are given to it.
  - xml.etree.ElementTree with pyexpat, urllib.parse with ipaddress (~0.5 MB): dbus_next reads
    and writes introspection XML, which a node never does (hive_node answers Introspect with its
    own text), and unquotes bus addresses, which never have a %-escape here. While dbus_next
    loads, what it takes from them at import time is a placeholder (ET.Element, in annotations)
    or a shortcut (unquote: a string without % is itself).
  After that, any use of one of these modules loads it.

Each stand-in is a module object that passes every name on to the real module once loaded, so
code holding it works as with the real one. `import X` after start gives the real module X.

The ssl part is for Debian's python3 3.11 only (the interpreter python3-dbus-next is packaged for):
asyncio's use of ssl is checked against that version's code. On another version, or when asyncio
or ssl is already loaded (a plugin that imports asyncio before hive_node), ssl is a plain import.
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

    def __init__(self, name, package=False):
        super().__init__(name)
        self.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=package)

    def __getattr__(self, attr):       # only for names the stand-in does not have itself
        if attr == '__path__' and not self.__spec__.submodule_search_locations:
            # What `from X import y` asks first (is X a package?): no, without loading X.
            raise AttributeError(f'module {self.__name__!r} has no attribute {attr!r}')
        return getattr(self._real(), attr)

    def _real(self):
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]          # so that the import finds and runs the real one
        return importlib.import_module(self.__name__)


class _NotLoadedYet:
    """ET.Element in the annotations dbus_next evaluates as it loads; nothing is an instance of it."""


class _NoSSLSocketYet:
    """Nothing is an instance of it: what asyncio's socket check sees while ssl is not loaded."""


def _unquote(string, encoding='utf-8', errors='replace'):
    """urllib.parse.unquote as dbus_next uses it on bus addresses: the real one when there is a %."""
    if isinstance(string, str) and '%' not in string:
        return string                                # what urllib.parse.unquote returns for it too
    return importlib.import_module('urllib.parse').unquote(string, encoding, errors)


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


# Modules asyncio or dbus_next imports and an idle node never uses: for each, its importer, and what
# that takes from it while it loads (see the top of this file). subprocess's constants are its own.
WHILE_LOADING = {
    'subprocess': ('asyncio', {'PIPE': -1, 'STDOUT': -2, 'DEVNULL': -3}),
    'xml.etree.ElementTree': ('dbus_next', {'Element': _NotLoadedYet}),
    'urllib.parse': ('dbus_next', {'unquote': _unquote}),
}


def load():
    """Imports asyncio and dbus_next (and dbus_next.aio) as lean as this interpreter allows."""
    lean_ssl = sys.version_info[:2] == SSL_VERSION and 'asyncio' not in sys.modules and 'ssl' not in sys.modules
    stand_ins = []
    if 'dbus_next' not in sys.modules and 'dbus_next.glib' not in sys.modules:
        sys.modules['dbus_next.glib'] = OnFirstUse('dbus_next.glib', package=True)
    for name, (importer, names) in WHILE_LOADING.items():
        if name in sys.modules or importer in sys.modules:
            continue
        if '.' in name:
            importlib.import_module(name.rpartition('.')[0])   # its package (a few lines), for `import a.b.c as x`
        stand_in = sys.modules[name] = OnFirstUse(name)
        stand_in.__dict__.update(names)
        stand_ins.append((stand_in, names))
    if lean_ssl:
        sys.modules['ssl'] = None                    # asyncio's modules take ssl to be missing...
    try:
        import asyncio  # noqa: F401
        import dbus_next.aio  # noqa: F401
    finally:
        if lean_ssl:
            del sys.modules['ssl']
        for stand_in, names in stand_ins:            # from now on, a use of one loads it
            for attr in names:
                delattr(stand_in, attr)
            if sys.modules.get(stand_in.__name__) is stand_in:
                del sys.modules[stand_in.__name__]
    if lean_ssl:
        stand_in = SSLOnFirstUse('ssl')              # ...and then get the stand-in instead
        users = [sys.modules[name] for name in SSL_USERS]
        if any(m.__dict__.get('ssl', False) is not None for m in users) or hasattr(users[2], 'SSLAgainErrors'):
            stand_in._real()                         # not the code this was written for: load it now
        else:
            for m in users:
                m.ssl = stand_in
