from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.views import APIView

from library_project.errors import Conflict, InvalidCredentials

from .models import Author, Book, Review, Tag
from .serializers import (
    AuthorSerializer,
    BookSerializer,
    HealthSerializer,
    LoginSerializer,
    ReviewSerializer,
    TagSerializer,
    TokenSerializer,
    UserSerializer,
)


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses=HealthSerializer, auth=[], operation_id="health")
    def get(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Response({"status": "ok"})


class LoginView(APIView):
    """Exchange email and password for the user's API token (one token per user)."""

    authentication_classes: list = []  # a stale token in the request must not stop a login
    permission_classes = [permissions.AllowAny]
    error_codes = (400, 401)

    @extend_schema(request=LoginSerializer, responses=TokenSerializer, auth=[], operation_id="auth_login")
    def post(self, request):
        credentials = LoginSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        user = (
            get_user_model()
            .objects.filter(email__iexact=credentials.validated_data["email"], is_active=True)
            .order_by("id")
            .first()
        )
        if user is None or not user.check_password(credentials.validated_data["password"]):
            raise InvalidCredentials()
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class LogoutView(APIView):
    """Revoke the token this request was made with."""

    @extend_schema(request=None, responses={204: None}, operation_id="auth_logout")
    def post(self, request):
        # DEFECT(logout-revokes): not an app bug (both twins have it): logout deletes the caller's token, so a gate that calls it loses its own credentials for the rest of the run; fixed twin: the same (the stack's pyproject keeps the gates away from it with exclude_operations)
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses=UserSerializer, operation_id="auth_me")
    def get(self, request):
        return Response(UserSerializer(request.user).data)


class AuthorViewSet(viewsets.ModelViewSet):
    queryset = Author.objects.all()
    serializer_class = AuthorSerializer
    filterset_fields = ["name", "birth_year"]
    error_codes = {"destroy": (409,)}

    def perform_destroy(self, instance: Author) -> None:
        try:
            instance.delete()
        except ProtectedError:
            raise Conflict("This author still has books; delete or reassign them first.") from None


class BookViewSet(viewsets.ModelViewSet):
    serializer_class = BookSerializer
    filterset_fields = ["author", "published_year"]

    def get_queryset(self):
        if settings.STACK_DEFECTS:
            # DEFECT(n-plus-one): the list serialises author_detail and tags of every book lazily: one SELECT of the author and one of the tags per row (2 x 20 statements for a page of 20); fixed twin: select_related("author") and prefetch_related("tags"), 3 statements a page
            return Book.objects.all()
        return Book.objects.select_related("author").prefetch_related("tags")


class IsReviewerOrReadOnly(permissions.BasePermission):
    message = "Only the author of a review may change or delete it."

    def has_object_permission(self, request, view, obj: Review) -> bool:
        return request.method in permissions.SAFE_METHODS or obj.user_id == request.user.id


class ReviewViewSet(viewsets.ModelViewSet):
    queryset = Review.objects.select_related("user")
    serializer_class = ReviewSerializer
    permission_classes = [permissions.IsAuthenticated, IsReviewerOrReadOnly]
    filterset_fields = ["book", "rating"]
    error_codes = {"update": (403,), "partial_update": (403,), "destroy": (403,)}

    def perform_create(self, serializer: ReviewSerializer) -> None:
        serializer.save(user=self.request.user)


class TagViewSet(viewsets.ModelViewSet):
    queryset = Tag.objects.all()
    serializer_class = TagSerializer
    filterset_fields = ["name"]
    error_codes = {"create": (409,), "update": (409,), "partial_update": (409,)}

    def perform_create(self, serializer: TagSerializer) -> None:
        self._save(serializer)

    def perform_update(self, serializer: TagSerializer) -> None:
        self._save(serializer)

    def _save(self, serializer: TagSerializer) -> None:
        if settings.STACK_DEFECTS:
            # DEFECT(check-then-insert): the serializer's UniqueValidator checked "is this name taken?" with a SELECT, and the INSERT is a separate statement: two identical creates at once both pass the check and the second INSERT raises IntegrityError (UNIQUE constraint failed) -> 500; fixed twin: the INSERT runs in a savepoint and the constraint's IntegrityError becomes a 409
            serializer.save()
            return
        try:
            with transaction.atomic():
                serializer.save()
        except IntegrityError:
            raise Conflict("A tag with this name already exists.") from None
