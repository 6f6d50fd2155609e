# devstack's warm standby for Python (first on PYTHONPATH, so site imports it at start). It imports the
# installed and standard-library modules the service's process had imported the last time (recorded in
# DEVSTACK_WARM_RECORD 10 s after it started), then blocks until devstack writes to
# DEVSTACK_WARM_FIFO after a reload; the process then goes on to import the app's own (new) code.
import os
import sys


def _warm():
    fifo = os.environ.pop("DEVSTACK_WARM_FIFO", "")
    record = os.environ.pop("DEVSTACK_WARM_RECORD", "")
    after = float(os.environ.pop("DEVSTACK_WARM_RECORD_AFTER", "") or 10)
    if fifo:
        _standby(fifo, record)
    if record:
        _record(record, after)


def _standby(fifo, record):
    try:
        with open(fifo + ".hello", "w") as f:
            f.write(str(os.getpid()))
    except OSError:
        pass
    import importlib
    import json

    names = []
    try:
        with open(record) as f:
            names = [n.strip() for n in f if n.strip()]
    except OSError:
        pass
    blocker = _AppBlocker(_installed_roots())
    sys.meta_path.insert(0, blocker)
    try:
        for name in names:
            try:
                importlib.import_module(name)
            except BaseException:
                pass
    finally:
        sys.meta_path.remove(blocker)
    with open(fifo) as f:  # blocks until devstack writes the go message and closes it
        msg = json.loads(f.read() or "{}")
    for k, v in (msg.get("env") or {}).items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _installed_roots():
    import sysconfig

    return [os.path.realpath(sysconfig.get_paths()[k]) + os.sep for k in ("stdlib", "platstdlib")]


def _installed(path, stdlib):
    # installed packages and the standard library; not the app's code, nor a package installed from
    # source (editable, a path outside the installation) that a reload may change
    path = os.path.realpath(path)
    return "site-packages" in path or any(path.startswith(p) for p in stdlib)


class _AppBlocker:
    """While the standby preloads, a module that is not installed (the app's own code, which an installed
    package may import, e.g. Django's settings with DJANGO_SETTINGS_MODULE set) cannot be imported: it
    would be the old code once the standby goes."""

    def __init__(self, stdlib):
        import importlib.machinery

        self.stdlib = stdlib
        self.path_finder = importlib.machinery.PathFinder

    def find_spec(self, name, path=None, target=None):
        spec = self.path_finder.find_spec(name, path)
        origin = getattr(spec, "origin", None)
        if spec is not None and origin and origin not in ("built-in", "frozen") and not _installed(origin, self.stdlib):
            raise ImportError(f"devstack warm standby: {name} is the app's code, not preloaded", name=name)
        return None


def _record(record, after):
    import threading

    stdlib = _installed_roots()

    def save():
        out = []
        for name, mod in list(sys.modules.items()):
            path = getattr(mod, "__file__", None) or ""
            if path and _installed(path, stdlib):
                out.append(name)
        try:
            with open(record + ".tmp", "w") as f:
                f.write("\n".join(out) + "\n")
            os.replace(record + ".tmp", record)
        except OSError:
            pass

    t = threading.Timer(after, save)
    t.daemon = True
    t.start()


def _chain():
    # Run a sitecustomize of the environment that this one shadows.
    here = os.path.dirname(os.path.abspath(__file__))
    mod = sys.modules.pop("sitecustomize", None)
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        import sitecustomize  # noqa: F401
    except ImportError:
        if mod is not None:
            sys.modules["sitecustomize"] = mod
    finally:
        sys.path[:] = saved


_warm()
_chain()
