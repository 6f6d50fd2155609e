from django.urls import path

from . import views

app_name = "orders"
urlpatterns = [
    path("summary", views.SummaryView.as_view(), name="summary"),
    path("users/<uuid:user_id>", views.UserStatsView.as_view(), name="user-stats"),
    path("orders/<uuid:order_id>", views.OrderDetailView.as_view(), name="order-detail"),
    path("dead-letters", views.DeadLetterListView.as_view(), name="dead-letters"),
]
