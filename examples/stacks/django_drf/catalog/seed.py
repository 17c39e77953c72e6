"""The seed: the user the gates act as, its API token, and a small catalog (ids 1..N).

Used by the data migration 0002_seed (so every database that is migrated, a pytest-django
test database included, has the seed) and again at every start-up (bootstrap.py), which
restores the seeded user's token if it was revoked (POST /api/auth/logout/). `apps` is an
app registry: the migration's historical models, or django.apps.apps. Idempotent.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import make_password

from auth_token import api_token

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
    key = api_token(settings.SECRET_KEY)
    Token.objects.filter(user=gates).exclude(key=key).delete()
    Token.objects.get_or_create(key=key, defaults={"user": gates})

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
