from django.shortcuts import get_object_or_404
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import stats
from .models import DeadLetter, Order
from .serializers import DeadLetterSerializer, OrderSerializer


class SummaryView(APIView):
    """GET /api/analytics/summary: totals over every order, decisions, revenue, the latest scored orders."""

    def get(self, request: Request) -> Response:
        data = stats.summary()
        data["recent"] = OrderSerializer(data["recent"], many=True).data
        return Response(data)


class UserStatsView(APIView):
    """GET /api/analytics/users/<uuid>: one user's totals and recent orders."""

    def get(self, request: Request, user_id) -> Response:
        data = stats.user_stats(user_id)
        data["recent"] = OrderSerializer(data["recent"], many=True).data
        return Response(data)


class OrderDetailView(APIView):
    """GET /api/analytics/orders/<uuid>: what analytics knows of one order."""

    def get(self, request: Request, order_id) -> Response:
        return Response(OrderSerializer(get_object_or_404(Order, order_id=order_id)).data)


class DeadLetterListView(generics.ListAPIView):
    """GET /api/analytics/dead-letters: the latest messages the pipeline could not process."""

    serializer_class = DeadLetterSerializer

    def get_queryset(self):
        return DeadLetter.objects.all()[:100]
