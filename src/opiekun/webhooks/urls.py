from django.urls import path

from . import views

app_name = "webhooks"
urlpatterns = [path("hooks/<str:token>/", views.receive, name="receive")]
