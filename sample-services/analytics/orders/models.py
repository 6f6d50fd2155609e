"""What analytics keeps of the order stream: one row per order, filled from orders.placed and orders.scored
in whichever order they arrive, plus the dead letters the pipeline produced."""

from django.db import models


class Decision(models.TextChoices):
    APPROVE = "approve"
    REVIEW = "review"
    REJECT = "reject"


class Order(models.Model):
    order_id = models.UUIDField(primary_key=True)
    user_id = models.UUIDField(db_index=True)
    total_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    shipping_country = models.CharField(max_length=2, blank=True, default="")
    units = models.PositiveIntegerField(default=0, help_text="Sum of item quantities")
    items = models.JSONField(default=list, blank=True)
    placed_at = models.DateTimeField(null=True, blank=True, help_text="Set from orders.placed")

    score = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Set from orders.scored")
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True, default="")
    reasons = models.JSONField(default=list, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)

    correlation_id = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at"]
        indexes = [
            models.Index(fields=["user_id", "placed_at"], name="order_user_placed_idx"),
            models.Index(fields=["decision"], name="order_decision_idx"),
            models.Index(fields=["-scored_at"], name="order_scored_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} ({self.decision or 'unscored'})"

    @property
    def is_scored(self) -> bool:
        return self.score is not None


class DeadLetter(models.Model):
    """A message some consumer could not process (read from orders.dlq)."""

    source_topic = models.CharField(max_length=249)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    consumer_group = models.CharField(max_length=255)
    error = models.TextField()
    value = models.TextField(blank=True, default="")
    failed_at = models.DateTimeField()
    correlation_id = models.CharField(max_length=128, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-failed_at"]
        constraints = [
            models.UniqueConstraint(fields=["source_topic", "partition", "offset"], name="deadletter_source_unique")
        ]

    def __str__(self) -> str:
        return f"{self.source_topic}[{self.partition}]@{self.offset}"
