"""The seed: the user the gates act as, its API token, and a small catalog (ids 1..N).

Used by the data migration 0002_seed, so every database that is migrated, a pytest-django
test database included, has the seed; the team's `seeded` fixture calls it again to restore a
token a test revoked (POST /api/auth/logout/). `apps` is an app registry: the migration's
historical models, or django.apps.apps. Idempotent.

The seeded user has its API token from the start, as `manage.py drf_create_token gates` would
give it, and `POST /api/auth/login/` answers that token (one per user): the gates log in to get
it. Its key is derived from SECRET_KEY, so every database seeded with one secret has the same
token: the test databases pytest-django makes for the gates' measurements before the tests (one
each) and for the tests, which it puts back after each gate item. The token one login gave stays
valid in all of them.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.contrib.auth.hashers import make_password

AUTHORS = [
    ("Ursula K. Le Guin", 1929, "Wrote of Earthsea and the Hainish worlds."),
    ("Isaac Asimov", 1920, "Robots, the Foundation and hundreds of other books."),
    ("Octavia E. Butler", 1947, "Kindred, the Parable novels and Xenogenesis."),
    ("Terry Pratchett", 1948, "Forty-one Discworld novels."),
    ("N. K. Jemisin", 1972, "The Broken Earth trilogy."),
]
TAGS = ["science-fiction", "fantasy", "classic", "humour", "series", "award-winner"]
BOOKS = [  # title, author index, year, pages, tags
    ("A Wizard of Earthsea", 0, 1968, 183, ["fantasy", "classic", "series"]),
    ("The Left Hand of Darkness", 0, 1969, 286, ["science-fiction", "award-winner"]),
    ("The Dispossessed", 0, 1974, 387, ["science-fiction", "award-winner"]),
    ("Foundation", 1, 1951, 255, ["science-fiction", "classic", "series"]),
    ("I, Robot", 1, 1950, 253, ["science-fiction", "classic"]),
    ("The Caves of Steel", 1, 1954, 206, ["science-fiction"]),
    ("Kindred", 2, 1979, 264, ["classic"]),
    ("Parable of the Sower", 2, 1993, 345, ["science-fiction", "series"]),
    ("Dawn", 2, 1987, 248, ["science-fiction", "series"]),
    ("Guards! Guards!", 3, 1989, 288, ["fantasy", "humour", "series"]),
    ("Small Gods", 3, 1992, 284, ["fantasy", "humour"]),
    ("Going Postal", 3, 2004, 394, ["fantasy", "humour", "series"]),
    ("The Fifth Season", 4, 2015, 468, ["fantasy", "award-winner", "series"]),
    ("The Obelisk Gate", 4, 2016, 410, ["fantasy", "award-winner", "series"]),
    ("The City We Became", 4, 2020, 437, ["fantasy"]),
]


def seed(apps) -> None:
    User = apps.get_model(settings.AUTH_USER_MODEL)
    Token = apps.get_model("authtoken", "Token")
    Author = apps.get_model("catalog", "Author")
    Book = apps.get_model("catalog", "Book")
    Review = apps.get_model("catalog", "Review")
    Tag = apps.get_model("catalog", "Tag")

    gates, _ = User.objects.get_or_create(
        username="gates",
        defaults={"email": settings.STACK_SEED_EMAIL, "password": make_password(settings.STACK_PASSWORD)},
    )
    reader, _ = User.objects.get_or_create(
        username="reader", defaults={"email": "reader@example.com", "password": make_password(None)}
    )
    if not Token.objects.filter(user=gates).exists():
        Token.objects.create(user=gates, key=_seed_token_key(settings.SECRET_KEY, gates.email))

    if Author.objects.exists() or Book.objects.exists() or Tag.objects.exists():
        return
    tags = {name: Tag.objects.create(name=name) for name in TAGS}
    authors = [Author.objects.create(name=n, birth_year=y, bio=b) for n, y, b in AUTHORS]
    for number, (title, author, year, pages, names) in enumerate(BOOKS):
        book = Book.objects.create(
            title=title, author=authors[author], published_year=year, pages=pages,
            summary=f"{title}, by {authors[author].name} ({year}).",
        )
        book.tags.set([tags[name] for name in names])
        Review.objects.create(book=book, user=gates, rating=3 + number % 3, body="Worth reading.")
        if number % 2 == 0:
            Review.objects.create(book=book, user=reader, rating=5 - number % 2, body="A favourite.")


def _seed_token_key(secret_key: str, email: str) -> str:
    """40 hex digits, as DRF's Token.generate_key gives (rest_framework.authtoken's key is a
    CharField(max_length=40)), from HMAC-SHA256(secret, email)."""
    return hmac.new(secret_key.encode(), f"drf-token:{email}".encode(), hashlib.sha256).hexdigest()[:40]
