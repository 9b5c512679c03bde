"""The test project's URLconf: the admin, and the app's URLs under push/."""

from django.contrib import admin

from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("push/", include("expo_push.django.urls")),
]
