from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import TestCase, TransactionTestCase, override_settings

from orders.devprep import prepare
from orders.models import Order


class EnsureDevSuperuser(TestCase):
    @override_settings(DEBUG=True)
    def test_creates_once(self):
        out = StringIO()
        call_command("ensure_dev_superuser", stdout=out)
        call_command("ensure_dev_superuser", stdout=out)
        users = get_user_model().objects.filter(username="admin")
        self.assertEqual(users.count(), 1)
        self.assertTrue(users.get().check_password("admin"))
        self.assertTrue(users.get().is_superuser)
        self.assertIn("exists", out.getvalue())

    @override_settings(DEBUG=False)
    def test_refuses_without_debug(self):
        with self.assertRaises(CommandError):
            call_command("ensure_dev_superuser", stdout=StringIO())
        self.assertFalse(get_user_model().objects.exists())


class PrepareDev(TransactionTestCase):
    """The start of analytics under devstack: migrate only when a migration is unapplied, then the dev
    superuser; a hot reload (nothing to migrate) skips migrate and its post-migrate work."""

    @override_settings(DEBUG=True)
    def test_skips_migrate_when_up_to_date(self):
        out = StringIO()
        self.assertFalse(prepare(stdout=out))
        self.assertIn("migrations up to date", out.getvalue())
        self.assertTrue(get_user_model().objects.filter(username="admin", is_superuser=True).exists())

    @override_settings(DEBUG=True)
    def test_migrates_when_a_migration_is_unapplied(self):
        call_command("migrate", "orders", "zero", verbosity=0)
        self.assertNotIn(Order._meta.db_table, connection.introspection.table_names())
        out = StringIO()
        self.assertTrue(prepare(stdout=out))
        self.assertIn(Order._meta.db_table, connection.introspection.table_names())
        self.assertTrue(get_user_model().objects.filter(username="admin").exists())
