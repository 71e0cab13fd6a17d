from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.second_factor_manage, name="second_factor"),
    path("verify/", views.second_factor_verify, name="second_factor_verify"),
    path("enrol/", views.second_factor_enrol, name="second_factor_enrol"),
]
