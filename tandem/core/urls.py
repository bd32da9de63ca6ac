from django.urls import path

from tandem.core import views
from tandem.core.lib import oidc

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/code/", views.LoginCodeView.as_view(), name="login-code"),
    path(
        "login/setup/",
        views.SecondFactorSetupView.as_view(during_sign_in=True),
        name="login-setup",
    ),
    path("login/oidc/", oidc.StartView.as_view(), name="oidc-start"),
    path("login/oidc/callback/", oidc.CallbackView.as_view(), name="oidc-callback"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("account/", views.AccountView.as_view(), name="account"),
    path("account/password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("account/two-factor/", views.SecondFactorSetupView.as_view(), name="second-factor-setup"),
    path("account/recovery-codes/", views.RecoveryCodesView.as_view(), name="recovery-codes"),
]
