# Copied to a site-packages directory on PYTHONPATH: a dependency the warm standby imports ahead.
import os

loaded_by = os.getpid()
