from django.urls import path

from registration import views

app_name = "registration"

urlpatterns = [
    path("", views.signup, name="signup"),
    path("sent/", views.sent, name="sent"),
    path("verify/<str:token>/", views.verify, name="verify"),
    path("resend/", views.resend, name="resend"),
]
