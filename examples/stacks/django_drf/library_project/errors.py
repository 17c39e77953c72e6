"""The API's error answers: JSON bodies `{"detail": "..."}` for every error, 404s included."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, JsonResponse
from django.template.loader import render_to_string
from rest_framework import exceptions, status
from rest_framework.views import exception_handler

# The text of a 404 lives in a template, so that support can word it without a deploy.
NOT_FOUND_TEMPLATE = "errors/not_found.txt"
if settings.STACK_DEFECTS:
    # DEFECT(broken-404): the template was renamed to errors/not_found.txt and this name was not updated: every 404 (a missing book, an unknown URL) raises TemplateDoesNotExist while rendering the "not found" answer, and with DEBUG off the client gets a 500; fixed twin: the template that exists
    NOT_FOUND_TEMPLATE = "errors/404.txt"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class InvalidCredentials(exceptions.APIException):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "Unable to log in with the provided credentials."
    default_code = "invalid_credentials"
    auth_header = 'Token realm="api"'


def not_found(request, exception=None):
    """handler404, and the answer of every API view that raises NotFound / Http404."""
    detail = render_to_string(NOT_FOUND_TEMPLATE, {"path": request.path}).strip()
    return JsonResponse({"detail": detail}, status=status.HTTP_404_NOT_FOUND)


def api_exception_handler(exc, context):
    if isinstance(exc, (Http404, exceptions.NotFound)):
        return not_found(context["request"], exc)
    return exception_handler(exc, context)
