"""Storefront API (FastAPI): a small web shop's backend, JSON and server-rendered HTML.

- catalogue: products (search, filters, sorting, pagination), categories, reviews,
  brochure downloads, HTML shop pages;
- customers: registration, login with a session cookie, ``/auth/me``;
- orders: guest checkout with nested lines and a shipping address;
- back office (``Authorization: Bearer $STOREFRONT_ADMIN_TOKEN``): product
  maintenance, customers, orders, invoices (CSV), statistics;
- operations: ``/health``, ``/metrics`` (Prometheus text format).

Serve it with ``uvicorn storefront_api:app --app-dir examples/realworld``;
the schema is at ``/openapi.json``.
"""

from __future__ import annotations

import csv
import hmac
import html
import io
import logging
import os
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, FastAPI, HTTPException, Path, Query, Request, Response, status
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

try:  # imported as part of a package (examples.realworld.storefront_api)
    from . import _storefront_data as data
except ImportError:  # imported from this directory
    import _storefront_data as data  # type: ignore[no-redef]

log = logging.getLogger("storefront")

bearer = HTTPBearer(auto_error=False, description="Back-office token")
session_cookie = APIKeyCookie(name="session", auto_error=False, description="Set by POST /auth/login")
Id = Annotated[int, Path(ge=1, le=data.MAX_ID)]
PageNo = Annotated[int, Query(ge=1, le=1000, description="1-based page number")]
PerPage = Annotated[int, Query(ge=1, le=100)]

router = APIRouter()


def get_store(request: Request) -> data.Store:
    return request.app.state.store


Store = Annotated[data.Store, Depends(get_store)]


def require_admin(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    expected = request.app.state.admin_token
    if credentials is None or not hmac.compare_digest(credentials.credentials.encode("utf-8", "surrogatepass"),
                                                      expected.encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "admin token required", {"WWW-Authenticate": "Bearer"})


Admin = [Depends(require_admin)]
ADMIN_ERRORS = data.responses(401)


def current_customer(store: Store, token: Annotated[str | None, Depends(session_cookie)]) -> dict[str, Any]:
    customer = store.session_customer(token)
    if customer is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "log in first")
    return customer


# ---------------------------------------------------------------- operations


@router.get("/health", response_model=data.Health, tags=["operations"])
def health() -> dict[str, str]:
    return {"status": "ok", "version": data.__version__}


@router.get("/metrics", response_class=PlainTextResponse, tags=["operations"],
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics(request: Request) -> PlainTextResponse:
    """Request counters in the Prometheus text format."""
    counts: Counter[tuple[str, int]] = request.app.state.request_counts
    lines = ["# HELP storefront_http_requests_total Requests served, by method and status.",
             "# TYPE storefront_http_requests_total counter"]
    lines += [f'storefront_http_requests_total{{method="{m}",status="{s}"}} {n}' for (m, s), n in sorted(counts.items())]
    lines += ["# HELP storefront_uptime_seconds Seconds since start.", "# TYPE storefront_uptime_seconds gauge",
              f"storefront_uptime_seconds {time.monotonic() - request.app.state.started:.0f}"]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


# ---------------------------------------------------------------- catalogue


@router.get("/products", response_model=data.ProductList, tags=["catalogue"])
def list_products(
    store: Store,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="Words in the name or description")] = None,
    category: data.Category | None = None,
    min_price: Annotated[int | None, Query(ge=0, le=data.MAX_PRICE_CENTS)] = None,
    max_price: Annotated[int | None, Query(ge=0, le=data.MAX_PRICE_CENTS)] = None,
    sort: data.ProductSort = "name",
    page: PageNo = 1,
    per_page: PerPage = 20,
) -> Any:
    found = store.find_products(q=q, category=category, min_price=min_price, max_price=max_price, sort=sort)
    return data.paginate(found, page, per_page)


@router.get("/products/{product_id}", response_model=data.Product, responses=data.responses(404), tags=["catalogue"])
def get_product(product_id: Id, store: Store) -> Any:
    product = store.get_product(product_id)
    if product is None:
        raise HTTPException(404, f"product {product_id} not found")
    return product


@router.post("/products", response_model=data.Product, status_code=201, dependencies=Admin, tags=["back office"],
             responses={**ADMIN_ERRORS, **data.responses(400, 409),
                        201: {"headers": {"Location": {"required": True, "schema": {"type": "string"}}}}})
def create_product(body: data.ProductIn, store: Store, response: Response) -> Any:
    try:
        product = store.add_product(body.model_dump())
    except data.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    response.headers["Location"] = f"/products/{product['id']}"
    return product


@router.patch("/products/{product_id}", response_model=data.Product, dependencies=Admin, tags=["back office"],
              responses={**ADMIN_ERRORS, **data.responses(400, 404)})
def update_product(product_id: Id, body: data.ProductUpdate, store: Store) -> Any:
    product = store.update_product(product_id, body.model_dump(exclude_unset=True, exclude_none=True))
    if product is None:
        raise HTTPException(404, f"product {product_id} not found")
    return product


@router.delete("/products/{product_id}", status_code=204, dependencies=Admin, tags=["back office"],
               responses={**ADMIN_ERRORS, **data.responses(404)})
def delete_product(product_id: Id, store: Store) -> Response:
    if not store.delete_product(product_id):
        raise HTTPException(404, f"product {product_id} not found")
    return Response(status_code=204)


@router.get("/categories", response_model=list[data.CategorySummary], tags=["catalogue"])
def categories(store: Store) -> Any:
    counts = Counter(p["category"] for p in store.find_products())
    return [{"category": c, "products": counts.get(c, 0)} for c in data.Category.__args__]


@router.get("/products/{product_id}/reviews", response_model=data.ReviewList, responses=data.responses(404),
            tags=["reviews"])
def list_reviews(product_id: Id, store: Store, min_rating: Annotated[int, Query(ge=1, le=5)] = 1,
                 page: PageNo = 1, per_page: PerPage = 20) -> Any:
    if store.get_product(product_id) is None:
        raise HTTPException(404, f"product {product_id} not found")
    return data.paginate(store.product_reviews(product_id, min_rating), page, per_page)


@router.post("/products/{product_id}/reviews", response_model=data.Review, status_code=201, tags=["reviews"],
             responses=data.responses(400, 404))
def add_review(product_id: Id, body: data.ReviewIn, store: Store) -> Any:
    if store.get_product(product_id) is None:
        raise HTTPException(404, f"product {product_id} not found")
    return store.add_review(product_id, body.model_dump())


@router.delete("/reviews/{review_id}", status_code=204, dependencies=Admin, tags=["back office"],
               responses={**ADMIN_ERRORS, **data.responses(404)})
def delete_review(review_id: Id, store: Store) -> Response:
    if not store.delete_review(review_id):
        raise HTTPException(404, f"review {review_id} not found")
    return Response(status_code=204)


BROCHURES = {
    "catalogue-2026.pdf": b"%PDF-1.4\n% Storefront catalogue 2026\n%%EOF\n",
    "returns-policy.pdf": b"%PDF-1.4\n% Returns within 30 days\n%%EOF\n",
}


@router.get("/downloads/{filename}", response_class=Response, tags=["catalogue"],
            responses={200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                             "headers": {"Content-Disposition": {"required": True, "schema": {"type": "string"}}}},
                       **data.responses(404)})
def download(filename: Annotated[str, Path(max_length=64, examples=["catalogue-2026.pdf"])]) -> Response:
    """A brochure; only the published files can be fetched, by name."""
    content = BROCHURES.get(filename)
    if content is None:
        raise HTTPException(404, "no such file")
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# ---------------------------------------------------------------- customers and sessions


@router.post("/customers", response_model=data.Customer, status_code=201, tags=["customers"],
             responses={**data.responses(400), **data.responses(409, s409="The e-mail address has an account")})
def register(body: data.CustomerIn, store: Store) -> Any:
    try:
        return store.add_customer(body.model_dump())
    except data.Conflict as exc:
        raise HTTPException(409, str(exc)) from None


@router.post("/auth/login", response_model=data.Customer, tags=["customers"],
             responses={200: {"description": "Logged in; the session is in the `session` cookie",
                              "headers": {"Set-Cookie": {"required": True, "schema": {"type": "string"}}}},
                        **data.responses(400, 401, 429)})
def login(body: data.LoginIn, store: Store, request: Request, response: Response) -> Any:
    retry_after = request.app.state.login_attempts.hit(body.email.casefold())
    if retry_after is not None:
        raise HTTPException(429, "too many attempts, try again later", {"Retry-After": str(retry_after)})
    customer = store.customer_by_email(body.email)
    if customer is None or not data.verify_password(body.password, customer["password_hash"]):
        raise HTTPException(401, "wrong e-mail address or password")
    token = store.new_session(customer["id"])
    response.set_cookie("session", token, max_age=data.SESSION_TTL, secure=True, httponly=True, samesite="lax")
    return customer


@router.post("/auth/logout", status_code=204, tags=["customers"])
def logout(store: Store, session: Annotated[str | None, Cookie()] = None) -> Response:
    """Ends the session, if there is one: logging out twice is not an error."""
    store.end_session(session)
    response = Response(status_code=204)
    response.delete_cookie("session")
    return response


@router.get("/auth/me", response_model=data.Customer, responses=data.responses(401), tags=["customers"])
def me(customer: Annotated[dict[str, Any], Depends(current_customer)]) -> Any:
    return customer


@router.get("/customers", response_model=data.CustomerList, dependencies=Admin, tags=["back office"],
            responses=ADMIN_ERRORS)
def list_customers(store: Store, email: Annotated[str | None, Query(min_length=1, max_length=254)] = None,
                   page: PageNo = 1, per_page: PerPage = 20) -> Any:
    return data.paginate(store.find_customers(email), page, per_page)


@router.get("/customers/{customer_id}", response_model=data.Customer, dependencies=Admin, tags=["back office"],
            responses={**ADMIN_ERRORS, **data.responses(404)})
def get_customer(customer_id: Id, store: Store) -> Any:
    found = [c for c in store.find_customers() if c["id"] == customer_id]
    if not found:
        raise HTTPException(404, f"customer {customer_id} not found")
    return found[0]


@router.patch("/customers/{customer_id}", response_model=data.Customer, dependencies=Admin, tags=["back office"],
              responses={**ADMIN_ERRORS, **data.responses(400, 404)})
def update_customer(customer_id: Id, body: data.CustomerUpdate, store: Store) -> Any:
    customer = store.update_customer(customer_id, body.model_dump(exclude_unset=True, exclude_none=True))
    if customer is None:
        raise HTTPException(404, f"customer {customer_id} not found")
    return customer


# ---------------------------------------------------------------- orders


@router.post("/orders", response_model=data.Order, status_code=201, tags=["orders"],
             responses={**data.responses(400), **data.responses(409, s409="A product is unavailable or out of stock")})
def place_order(body: data.OrderIn, store: Store) -> Any:
    """Guest checkout: the order is confirmed to ``customer_email``."""
    try:
        return store.place_order(body.model_dump())
    except data.Conflict as exc:
        raise HTTPException(409, str(exc)) from None


@router.get("/orders", response_model=data.OrderList, dependencies=Admin, tags=["back office"], responses=ADMIN_ERRORS)
def list_orders(store: Store, status_: Annotated[data.OrderStatus | None, Query(alias="status")] = None,
                customer_email: Annotated[str | None, Query(min_length=1, max_length=254)] = None,
                page: PageNo = 1, per_page: PerPage = 20) -> Any:
    return data.paginate(store.find_orders(status_, customer_email), page, per_page)


@router.get("/orders/{order_id}", response_model=data.Order, dependencies=Admin, tags=["back office"],
            responses={**ADMIN_ERRORS, **data.responses(404)})
def get_order(order_id: Id, store: Store) -> Any:
    order = store.get_order(order_id)
    if order is None:
        raise HTTPException(404, f"order {order_id} not found")
    return order


@router.post("/orders/{order_id}/cancel", response_model=data.Order, dependencies=Admin, tags=["back office"],
             responses={**ADMIN_ERRORS, **data.responses(404, 409)})
def cancel_order(order_id: Id, store: Store) -> Any:
    try:
        order = store.cancel_order(order_id)
    except data.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    if order is None:
        raise HTTPException(404, f"order {order_id} not found")
    return order


@router.get("/orders/{order_id}/invoice", response_class=Response, dependencies=Admin, tags=["back office"],
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "headers": {"Content-Disposition": {"required": True, "schema": {"type": "string"}}}},
                       **ADMIN_ERRORS, **data.responses(404)})
def invoice(order_id: Id, store: Store) -> Response:
    order = store.get_order(order_id)
    if order is None:
        raise HTTPException(404, f"order {order_id} not found")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["sku", "name", "quantity", "unit_price_cents", "line_total_cents"])
    for line in order["items"]:
        writer.writerow([line["sku"], line["name"], line["quantity"], line["unit_price_cents"], line["line_total_cents"]])
    writer.writerow(["", "total", "", "", order["total_cents"]])
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="invoice-{order_id}.csv"'})


@router.get("/admin/stats", response_model=data.Stats, dependencies=Admin, tags=["back office"], responses=ADMIN_ERRORS)
def stats(store: Store) -> Any:
    return store.stats()


# ---------------------------------------------------------------- HTML pages

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title} - Storefront</title><link rel="stylesheet" href="/static/shop.css"></head>
<body>
<header><a href="/">Storefront</a>
<form action="/shop" method="get"><input name="q" value="{q}" placeholder="Search"><button>Search</button></form></header>
<main>
{content}
</main>
</body>
</html>
"""
HTML_PAGE = {200: {"content": {"text/html": {"schema": {"type": "string"}}}}}


def render(title: str, content: str, q: str = "") -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), q=html.escape(q), content=content))


def product_cards(products: list[dict[str, Any]]) -> str:
    if not products:
        return "<p>No products found.</p>"
    cards = [f'<li><a href="/shop/products/{p["id"]}">{html.escape(p["name"])}</a> '
             f'<span class="price">&euro;{p["price_cents"] / 100:.2f}</span></li>' for p in products]
    return '<ul class="products">\n' + "\n".join(cards) + "\n</ul>"


@router.get("/", response_class=HTMLResponse, responses=HTML_PAGE, tags=["pages"])
def home(store: Store) -> HTMLResponse:
    newest = store.find_products(sort="newest")[:4]
    return render("Welcome", "<h1>New in</h1>\n" + product_cards(newest))


@router.get("/shop", response_class=HTMLResponse, responses=HTML_PAGE, tags=["pages"])
def shop(store: Store, q: Annotated[str | None, Query(max_length=100)] = None,
         category: data.Category | None = None, page: PageNo = 1) -> HTMLResponse:
    found = store.find_products(q=q or None, category=category)
    shown = data.paginate(found, page, 24)
    heading = f'Results for "{q}"' if q else (category.title() if category else "All products")
    return render(heading, f"<h1>{html.escape(heading)}</h1>\n<p>{shown['total']} products</p>\n"
                  + product_cards(shown["items"]), q or "")


@router.get("/shop/products/{product_id}", response_class=HTMLResponse, tags=["pages"],
            responses={**HTML_PAGE, 404: {"content": {"text/html": {"schema": {"type": "string"}}},
                                          "description": "No such product"}})
def product_page(product_id: Id, store: Store) -> HTMLResponse:
    product = store.get_product(product_id)
    if product is None or not product["active"]:
        page = render("Not found", "<h1>Product not found</h1>")
        page.status_code = 404
        return page
    reviews = store.product_reviews(product_id)[:10]
    items = "\n".join(f"<li><strong>{html.escape(r['title'])}</strong> ({r['rating']}/5) by "
                      f"{html.escape(r['author_name'])}<p>{html.escape(r['body'])}</p></li>" for r in reviews)
    content = (f"<h1>{html.escape(product['name'])}</h1>\n<p>{html.escape(product['description'])}</p>\n"
               f"<p class=\"price\">&euro;{product['price_cents'] / 100:.2f}</p>\n"
               f"<h2>Reviews</h2>\n<ul>{items or '<li>No reviews yet.</li>'}</ul>")
    return render(product["name"], content)


# ---------------------------------------------------------------- the app


async def unhandled_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(status_code=500, content={"detail": "internal error"})


async def service_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    request.app.state.request_counts[(request.method, response.status_code)] += 1
    response.headers["X-Request-Id"] = uuid.uuid4().hex
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    if response.headers.get("content-type", "").startswith("text/html"):
        response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
    return response


def create_app(admin_token: str | None = None) -> FastAPI:
    """A new app with its own data. The back-office token comes from ``STOREFRONT_ADMIN_TOKEN``."""
    app = FastAPI(title="Storefront", version=data.__version__)
    app.state.store = data.Store()
    app.state.login_attempts = data.AttemptLimiter()
    app.state.request_counts = Counter()
    app.state.started = time.monotonic()
    app.state.admin_token = admin_token or os.environ.get("STOREFRONT_ADMIN_TOKEN") or secrets.token_urlsafe(32)
    app.include_router(router)
    data.install_error_plumbing(app)
    app.add_exception_handler(Exception, unhandled_error)
    app.middleware("http")(service_headers)
    app.add_middleware(CORSMiddleware, allow_origins=[data.FRONTEND_ORIGIN], allow_credentials=True,
                       allow_methods=["GET", "POST", "PATCH", "DELETE"], allow_headers=["Authorization", "Content-Type"])
    return app


app = create_app()
