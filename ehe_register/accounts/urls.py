from django.urls import path

from ehe_register.accounts import views

app_name = "accounts"

urlpatterns = [
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-out/", views.sign_out, name="sign_out"),
    path("signed-out/", views.signed_out, name="signed_out"),
    path("two-factor/", views.two_factor, name="two_factor"),
    path("two-factor/set-up/", views.two_factor_setup, name="two_factor_setup"),
]
