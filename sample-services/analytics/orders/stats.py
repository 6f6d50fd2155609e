"""Aggregations behind the summary and per-user endpoints, done in the database."""

from __future__ import annotations

from django.db.models import Avg, Count, Max, Q, QuerySet, Sum

from .models import DeadLetter, Decision, Order


def _totals(qs: QuerySet[Order]) -> dict:
    agg = qs.aggregate(
        orders=Count("order_id"),
        scored=Count("order_id", filter=Q(score__isnull=False)),
        average_score=Avg("score"),
        max_score=Max("score"),
        last_order_at=Max("placed_at"),
        **{d.value: Count("order_id", filter=Q(decision=d.value)) for d in Decision},
    )
    revenue = {
        row["currency"]: row["total"]
        for row in qs.values("currency").annotate(total=Sum("total_cents")).order_by("currency")
    }
    return {
        "orders": agg["orders"],
        "scored": agg["scored"],
        "pending": agg["orders"] - agg["scored"],
        "decisions": {d.value: agg[d.value] for d in Decision},
        "average_score": round(agg["average_score"], 2) if agg["average_score"] is not None else None,
        "max_score": agg["max_score"],
        "revenue_cents": revenue,
        "last_order_at": agg["last_order_at"],
    }


def summary(recent: int = 10) -> dict:
    orders = Order.objects.all()
    return {
        **_totals(orders),
        "users": orders.values("user_id").distinct().count(),
        "dead_letters": DeadLetter.objects.count(),
        "recent": orders.filter(score__isnull=False).order_by("-scored_at")[:recent],
    }


def user_stats(user_id, recent: int = 20) -> dict:
    orders = Order.objects.filter(user_id=user_id)
    return {"user_id": user_id, **_totals(orders), "recent": orders.order_by("-placed_at")[:recent]}
