"""The app's URLconf: ``include("expo_push.django.urls")`` gives ``devices/`` and ``devices/unregister/``."""

from __future__ import annotations

from django.urls import path

from . import views

__all__ = ["app_name", "urlpatterns"]

app_name = "expo_push"

urlpatterns = [
    path("devices/", views.register, name="register-device"),
    path("devices/unregister/", views.unregister, name="unregister-device"),
]
