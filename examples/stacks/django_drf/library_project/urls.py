from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView
from rest_framework.routers import SimpleRouter

from catalog.views import (
    AuthorViewSet,
    BookViewSet,
    HealthView,
    LoginView,
    LogoutView,
    MeView,
    ReviewViewSet,
    TagViewSet,
)

router = SimpleRouter()
router.register("authors", AuthorViewSet, basename="author")
router.register("books", BookViewSet, basename="book")
router.register("reviews", ReviewViewSet, basename="review")
router.register("tags", TagViewSet, basename="tag")

urlpatterns = [
    path("api/health/", HealthView.as_view(), name="health"),
    path("api/auth/login/", LoginView.as_view(), name="login"),
    path("api/auth/logout/", LogoutView.as_view(), name="logout"),
    path("api/auth/me/", MeView.as_view(), name="me"),
    path("api/", include(router.urls)),
    path("api/schema/", SpectacularJSONAPIView.as_view(), name="schema"),
]

handler404 = "library_project.errors.not_found"
handler500 = "rest_framework.exceptions.server_error"
