# Copied to a site-packages directory on PYTHONPATH: a dependency the warm standby imports ahead.
import os

loaded_by = os.getpid()

# Like Django with DJANGO_SETTINGS_MODULE in the environment: an installed package that imports one of
# the app's own modules when it is imported. The standby must not load it ahead (it would be stale).
try:
    import appsettings  # noqa: F401
except ImportError:
    pass
