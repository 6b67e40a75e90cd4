from django.contrib import admin
from django.urls import include, path

from opiekun.api.root import api

from .health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("opiekun.webhooks.urls")),
    path("", include("opiekun.livechat.urls")),
    path("", include("opiekun.ui.public.urls")),
    path("", include("opiekun.ui.desk.urls")),
]
