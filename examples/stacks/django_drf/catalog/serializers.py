from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import serializers

from .models import Author, Book, Review, Tag


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email"]
        read_only_fields = fields


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField(read_only=True)


class AuthorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Author
        fields = ["id", "name", "bio", "birth_year", "created_at"]
        read_only_fields = ["created_at"]


class AuthorSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Author
        fields = ["id", "name"]
        read_only_fields = fields


class TagSerializer(serializers.ModelSerializer):
    # name keeps ModelSerializer's UniqueValidator: a friendly 400 for a name that is taken.
    # It is only a pre-check; the view turns the UNIQUE constraint's IntegrityError into a 409.
    class Meta:
        model = Tag
        fields = ["id", "name"]


class BookSerializer(serializers.ModelSerializer):
    author = serializers.PrimaryKeyRelatedField(queryset=Author.objects.all(), help_text="id of the author")
    author_detail = AuthorSummarySerializer(source="author", read_only=True)
    tags = serializers.SlugRelatedField(
        many=True, slug_field="name", queryset=Tag.objects.all(), required=False, help_text="names of existing tags"
    )

    class Meta:
        model = Book
        fields = ["id", "title", "author", "author_detail", "summary", "published_year", "pages", "tags", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs = {
            # DEFECT(null-into-not-null): summary accepts an explicit JSON null, but its column is NOT NULL (Book.summary has no null=True), so {"summary": null} reaches the INSERT/UPDATE and SQLite raises IntegrityError -> 500; fixed twin: allow_null=False (ModelSerializer's default for a NOT NULL column), so null is a 400
            "summary": {"required": False, "allow_null": settings.STACK_DEFECTS},
        }


class ReviewSerializer(serializers.ModelSerializer):
    book = serializers.PrimaryKeyRelatedField(queryset=Book.objects.all(), help_text="id of the reviewed book")
    reviewer = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Review
        fields = ["id", "book", "reviewer", "rating", "body", "created_at"]
        read_only_fields = ["created_at"]
