# The app's own settings, which an installed package imports (see heavy.py).
VALUE = "s1"
