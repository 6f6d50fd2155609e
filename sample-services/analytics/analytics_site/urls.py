from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.http import require_GET


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    from django.db import connection

    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
    except Exception as e:  # noqa: BLE001 - any database failure means not ready
        return JsonResponse({"status": "unavailable", "detail": f"database: {e}"}, status=503)
    return JsonResponse({"status": "ok", "service": "analytics"})


urlpatterns = [
    path("health", health),
    path("api/analytics/", include("orders.urls")),
    path("admin/", admin.site.urls),
]
