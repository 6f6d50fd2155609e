from django.contrib import admin

from .models import DeadLetter, Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("order_id", "user_id", "total_cents", "currency", "score", "decision", "placed_at", "scored_at")
    list_filter = ("decision", "currency", "shipping_country")
    search_fields = ("=order_id", "=user_id", "correlation_id")
    date_hierarchy = "placed_at"
    readonly_fields = [f.name for f in Order._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # rows come from Kafka


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ("source_topic", "partition", "offset", "consumer_group", "error", "failed_at")
    list_filter = ("source_topic", "consumer_group")
    search_fields = ("error", "value", "correlation_id")
    readonly_fields = [f.name for f in DeadLetter._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
