from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import TestCase, override_settings


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
