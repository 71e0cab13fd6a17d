from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.manage_page, name="second_factor"),
    path("verify/", views.verify_page, name="second_factor_verify"),
    path("enrol/", views.enrol_page, name="second_factor_enrol"),
]
