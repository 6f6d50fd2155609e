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
    for name in names:
        try:
            importlib.import_module(name)
        except BaseException:
            pass
    with open(fifo) as f:  # blocks until devstack writes the go message and closes it
        msg = json.loads(f.read() or "{}")
    for k, v in (msg.get("env") or {}).items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _record(record, after):
    import threading

    import sysconfig

    # installed packages and the standard library; not the app's code, nor a package installed from
    # source (editable, a path outside the installation) that a reload may change
    stdlib = [os.path.realpath(sysconfig.get_paths()[k]) + os.sep for k in ("stdlib", "platstdlib")]

    def save():
        out = []
        for name, mod in list(sys.modules.items()):
            path = os.path.realpath(getattr(mod, "__file__", None) or "")
            if path and ("site-packages" in path or any(path.startswith(p) for p in stdlib)):
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
