from django.urls import path

from ehe_register.accounts import staff_views, views

app_name = "accounts"

urlpatterns = [
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-out/", views.sign_out, name="sign_out"),
    path("signed-out/", views.signed_out, name="signed_out"),
    path("two-factor/", views.two_factor, name="two_factor"),
    path("two-factor/enrol/", views.enrol_set_up, name="enrol_set_up"),
    path("two-factor/enrol/<str:token>/", views.enrol, name="enrol"),
    path("two-factor/backup-codes/", views.backup_codes, name="backup_codes"),
    # Administrators: a person's two-factor sign-in.
    path("people/<int:pk>/two-factor/", staff_views.staff_two_factor, name="staff_two_factor"),
    path("people/<int:pk>/two-factor/link/", staff_views.staff_enrolment_link, name="staff_enrolment_link"),
    path("people/<int:pk>/two-factor/reset/", staff_views.staff_two_factor_reset, name="staff_two_factor_reset"),
]
