from rest_framework.pagination import LimitOffsetPagination


class LibraryPagination(LimitOffsetPagination):
    """?limit=&offset= on every list; at most 100 rows a page."""

    default_limit = 20
    max_limit = 100
