"""A test-only URLconf: the real one plus a view someone forgot to guard."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from ehe_register.urls import urlpatterns as real_urlpatterns


def leaky(request: HttpRequest) -> HttpResponse:
    return HttpResponse("every child's record")


urlpatterns = [*real_urlpatterns, path("leaky/", leaky, name="leaky")]
