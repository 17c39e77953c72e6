"""drf-spectacular's AutoSchema, plus the error answers every operation can give.

drf-spectacular documents the success answer only; a client (and a contract test)
also needs the 4xx answers. They are derived from the view: 401 for every
authenticated operation, 400 where a body or filter is validated, 404 on item
paths, and the extra codes a view declares in `error_codes`.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers

DESCRIPTIONS = {
    "400": "Invalid request: the body maps each field (or non_field_errors) to its messages",
    "401": "Missing or invalid credentials",
    "403": "Not allowed for this user",
    "404": "No such resource",
    "409": "Conflicts with the current state (a taken name, a resource still in use)",
}


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class LibraryAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            key = str(code)
            if key in responses:
                continue
            body = OpenApiTypes.OBJECT if code == 400 else ErrorSerializer
            responses[key] = self._get_response_for_code(body, key, direction=direction)
            responses[key]["description"] = DESCRIPTIONS[key]
        return dict(sorted(responses.items()))

    def _error_codes(self) -> set[int]:
        view = self.view
        codes: set[int] = set()
        if self._needs_auth():
            codes.add(401)
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            codes.add(400)
        if self.method == "GET" and self._is_list_view() and getattr(view, "filterset_fields", None):
            codes.add(400)  # django-filter rejects a malformed filter value
        if "{" in self.path:
            codes.add(404)
        declared = getattr(view, "error_codes", ())
        if isinstance(declared, dict):
            declared = declared.get(getattr(view, "action", None), ())
        codes.update(declared)
        return codes

    def _needs_auth(self) -> bool:
        return bool(self.view.get_authenticators()) and not all(
            p.__class__.__name__ == "AllowAny" for p in self.view.get_permissions()
        )
