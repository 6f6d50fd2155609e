"""Prepares the database when analytics starts under devstack: migrate, then the dev superuser.

A hot reload starts a new process on an already migrated database; running `manage.py migrate` (and
its post-migrate work: content types, permissions) then costs a second or more of every reload for
nothing. prepare() migrates only when a migration is unapplied, in the server's own process (no extra
Python start), and always makes sure the dev superuser exists.
"""

import sys

from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor


def prepare(stdout=None) -> bool:
    """Migrates when needed and ensures the dev superuser; returns whether migrate ran."""
    stdout = stdout or sys.stdout
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        call_command("migrate", interactive=False, stdout=stdout)
    else:
        stdout.write("migrations up to date; migrate skipped\n")
    call_command("ensure_dev_superuser", stdout=stdout)
    return bool(plan)
