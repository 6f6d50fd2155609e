"""Creates the development superuser once (admin/admin by default); does nothing when it exists."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the dev superuser (DJANGO_SUPERUSER_USERNAME/PASSWORD, default admin/admin) if missing."

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("refusing to create a dev superuser with DEBUG off")
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "admin")
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"dev superuser {username!r} exists")
            return
        User.objects.create_superuser(username=username, email=f"{username}@localhost", password=password)
        self.stdout.write(self.style.SUCCESS(f"created dev superuser {username!r} (password from DJANGO_SUPERUSER_PASSWORD, default 'admin')"))
