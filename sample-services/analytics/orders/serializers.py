from rest_framework import serializers

from .models import DeadLetter, Order


class OrderSerializer(serializers.ModelSerializer):
    scored = serializers.BooleanField(source="is_scored", read_only=True)

    class Meta:
        model = Order
        fields = [
            "order_id",
            "user_id",
            "total_cents",
            "currency",
            "shipping_country",
            "units",
            "items",
            "placed_at",
            "scored",
            "score",
            "decision",
            "reasons",
            "scored_at",
            "correlation_id",
        ]
        read_only_fields = fields


class DeadLetterSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeadLetter
        fields = ["source_topic", "partition", "offset", "consumer_group", "error", "value", "failed_at", "correlation_id"]
        read_only_fields = fields
