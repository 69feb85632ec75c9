"""The school portal (included at ``school/``): every view is for school users only."""

from django.urls import path, re_path

from ehe_register.views import school_requests, schools

app_name = "schools"

# References are EHE-<LA code>-<number>; anything else is not looked up at all.
REFERENCE = r"(?P<reference>[A-Za-z0-9-]{1,20})"

urlpatterns = [
    path("notify/", schools.notification_start, name="notify"),
    path("notify/check-your-answers/", schools.check_answers, name="check_answers"),
    path("notifications/", schools.notification_list, name="notification_list"),
    re_path(rf"^notifications/{REFERENCE}/$", schools.notification_detail, name="notification_detail"),
    re_path(rf"^notifications/{REFERENCE}/confirmation/$", schools.confirmation, name="confirmation"),
    path("requests/", school_requests.request_list, name="request_list"),
    path("requests/<int:pk>/", school_requests.request_answer, name="request_answer"),
]
