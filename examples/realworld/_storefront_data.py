"""Models, the in-memory repository and HTTP plumbing of the storefront API (``storefront_api.py``)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from copy import deepcopy
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import compile_path

__version__ = "2.3.1"

# Ids are 1 .. 2**53 - 1: the largest integer every JSON reader holds exactly.
MAX_ID = 2**53 - 1
MAX_PRICE_CENTS = 10_000_000
SESSION_TTL = 12 * 3600
LOGIN_ATTEMPTS, LOGIN_WINDOW = 5, 60.0  # per e-mail address
FRONTEND_ORIGIN = "https://shop.example.com"

Category = Literal["books", "electronics", "garden", "kitchen", "toys"]
OrderStatus = Literal["pending", "paid", "shipped", "cancelled"]
LoyaltyTier = Literal["standard", "silver", "gold"]
ProductSort = Literal["name", "price", "-price", "newest"]


def _no_surrogates(value: str) -> str:
    """JSON may carry a lone surrogate ("\\ud800"); nothing downstream can encode it as UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode") from None
    return value


def Text(min_length: int = 0, max_length: int = 200, **kwargs: Any) -> Any:  # noqa: N802 (a type alias factory)
    return Annotated[str, Field(min_length=min_length, max_length=max_length, **kwargs), AfterValidator(_no_surrogates)]


def _json_integer(value: Any) -> Any:
    """JSON has one number type: 3.0 is the integer 3 (JSON Schema says so too); strict mode would refuse it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def Int(ge: int, le: int, **kwargs: Any) -> Any:  # noqa: N802
    return Annotated[int, Field(ge=ge, le=le, **kwargs), BeforeValidator(_json_integer)]


Email = Annotated[str, Field(max_length=254, pattern=r"^[a-z0-9._+-]{1,64}@[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})*\.[a-z]{2,12}$",
                             examples=["ada@example.com"])]
Sku = Annotated[str, Field(pattern=r"^[A-Z]{3}-[0-9]{4}$", examples=["BOK-0001"])]
Money = Int(1, MAX_PRICE_CENTS, description="Amount in euro cents")


class Strict(BaseModel):
    """Request bodies: no coercion, no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


# ---------------------------------------------------------------- models: products


class Dimensions(Strict):
    width_mm: Int(1, 100_000)
    height_mm: Int(1, 100_000)
    depth_mm: Int(1, 100_000)
    weight_g: Int(1, 1_000_000)


class ProductIn(Strict):
    sku: Sku
    name: Text(1, 120)  # type: ignore[valid-type]
    description: Text(0, 2000) = ""  # type: ignore[valid-type]
    category: Category
    price_cents: Money
    stock: Int(0, 100_000) = 0
    tags: Annotated[list[Text(1, 30)], Field(max_length=10)] = []  # type: ignore[valid-type]
    dimensions: Dimensions | None = None


class ProductUpdate(Strict):
    name: Text(1, 120) | None = None  # type: ignore[valid-type]
    description: Text(0, 2000) | None = None  # type: ignore[valid-type]
    category: Category | None = None
    price_cents: Money | None = None
    stock: Int(0, 100_000) | None = None
    active: bool | None = None
    tags: Annotated[list[Text(1, 30)], Field(max_length=10)] | None = None  # type: ignore[valid-type]


class Product(BaseModel):
    id: Annotated[int, Field(json_schema_extra={"readOnly": True})]
    sku: str
    name: str
    description: str
    category: Category
    price_cents: int
    currency: Literal["EUR"]
    stock: int
    active: bool
    tags: list[str]
    dimensions: Dimensions | None
    rating_average: Annotated[float | None, Field(json_schema_extra={"readOnly": True})]
    review_count: Annotated[int, Field(json_schema_extra={"readOnly": True})]
    created_at: datetime


class Page(BaseModel):
    page: int
    per_page: int
    total: int


class ProductList(Page):
    items: list[Product]


class CategorySummary(BaseModel):
    category: Category
    products: int


# ---------------------------------------------------------------- models: reviews


class ReviewIn(Strict):
    rating: Int(1, 5)
    title: Text(1, 120)  # type: ignore[valid-type]
    body: Text(0, 4000) = ""  # type: ignore[valid-type]
    author_name: Text(1, 60, examples=["Ada"])  # type: ignore[valid-type]


class Review(BaseModel):
    id: int
    product_id: int
    rating: int
    title: str
    body: str
    author_name: str
    verified_purchase: bool
    created_at: datetime


class ReviewList(Page):
    items: list[Review]


# ---------------------------------------------------------------- models: customers


class CustomerIn(Strict):
    email: Email
    name: Text(1, 100, examples=["Ada Lovelace"])  # type: ignore[valid-type]
    password: Annotated[str, Field(min_length=10, max_length=128, examples=["a long passphrase"])]
    marketing_opt_in: bool = False


class CustomerUpdate(Strict):
    name: Text(1, 100) | None = None  # type: ignore[valid-type]
    marketing_opt_in: bool | None = None


class Customer(BaseModel):
    id: int
    email: str
    name: str
    marketing_opt_in: bool
    loyalty_tier: LoyaltyTier
    created_at: datetime


class CustomerList(Page):
    items: list[Customer]


class LoginIn(Strict):
    email: Annotated[str, Field(min_length=1, max_length=254, examples=["ada@example.com"])]
    password: Annotated[str, Field(min_length=1, max_length=128, examples=["correct horse battery staple"])]


# ---------------------------------------------------------------- models: orders


class Address(Strict):
    name: Text(1, 100, examples=["Ada Lovelace"])  # type: ignore[valid-type]
    line1: Text(1, 200, examples=["12 St James's Square"])  # type: ignore[valid-type]
    line2: Text(0, 200) = ""  # type: ignore[valid-type]
    city: Text(1, 100, examples=["London"])  # type: ignore[valid-type]
    postal_code: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9 -]{1,9}$", examples=["SW1Y 4JH"])]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", examples=["GB"])]


class OrderLineIn(Strict):
    product_id: Int(1, MAX_ID)
    quantity: Int(1, 99)


class OrderIn(Strict):
    customer_email: Email
    items: Annotated[list[OrderLineIn], Field(min_length=1, max_length=20)]
    shipping_address: Address
    note: Text(0, 500) = ""  # type: ignore[valid-type]


class OrderLine(BaseModel):
    product_id: int
    sku: str
    name: str
    quantity: int
    unit_price_cents: int
    line_total_cents: int


class Order(BaseModel):
    id: int
    status: OrderStatus
    customer_email: str
    items: list[OrderLine]
    shipping_address: Address
    note: str
    total_cents: int
    currency: Literal["EUR"]
    created_at: datetime


class OrderList(Page):
    items: list[Order]


class Stats(BaseModel):
    products: int
    customers: int
    orders: dict[str, int]
    revenue_cents: int


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Error(BaseModel):
    detail: str


class ValidationProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrors(BaseModel):
    detail: list[ValidationProblem]


# ---------------------------------------------------------------- passwords and sessions

_SCRYPT = {"n": 2**12, "r": 8, "p": 1}


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${key.hex()}"


def verify_password(password: str, stored: str) -> bool:
    _, salt, _ = stored.split("$")
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)), stored)


class AttemptLimiter:
    """At most ``limit`` attempts per key in any ``window`` seconds (sliding window)."""

    def __init__(self, limit: int = LOGIN_ATTEMPTS, window: float = LOGIN_WINDOW) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> int | None:
        """Count an attempt; None when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, int(hits[0] + self.window - now + 1))
            hits.append(now)
            return None


# ---------------------------------------------------------------- the repository

DEMO_EMAIL, DEMO_PASSWORD = "ada@example.com", "correct horse battery staple"
DEMO_PRODUCTS = [
    ("BOK-0001", "The Pragmatic Programmer", "books", 4250, 25, ["software", "classic"]),
    ("BOK-0002", "Designing Data-Intensive Applications", "books", 4899, 12, ["databases"]),
    ("ELE-0001", "USB-C hub, 7 ports", "electronics", 3999, 40, ["usb"]),
    ("ELE-0002", "Noise-cancelling headphones", "electronics", 24900, 5, ["audio"]),
    ("GAR-0001", "Stainless trowel", "garden", 1450, 60, []),
    ("GAR-0002", "Raised bed kit <120 x 60 cm>", "garden", 8900, 3, ["beds & planters"]),
    ("KIT-0001", "Chef's knife, 20 cm", "kitchen", 7900, 14, ["knives"]),
    ("KIT-0002", "Cast-iron skillet", "kitchen", 3450, 0, []),
    ("TOY-0001", "Wooden train set", "toys", 5900, 8, ["wood", "3+"]),
    ("TOY-0002", "Puzzle, 1000 pieces", "toys", 1999, 22, ["puzzle"]),
]


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class Conflict(Exception):
    """The request clashes with the current state (taken e-mail, SKU, stock, a shipped order)."""


class Store:
    """The shop's data, in memory behind one lock (the production build swaps in PostgreSQL)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.products: dict[int, dict[str, Any]] = {}
        self.reviews: dict[int, dict[str, Any]] = {}
        self.customers: dict[int, dict[str, Any]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.sessions: dict[str, tuple[int, float]] = {}  # sha256(token) -> (customer id, expiry)
        self._ids = {"products": 0, "reviews": 0, "customers": 0, "orders": 0}
        self._seed()

    def _next(self, table: str) -> int:
        self._ids[table] += 1
        return self._ids[table]

    def _seed(self) -> None:
        for sku, name, category, price, stock, tags in DEMO_PRODUCTS:
            self.add_product({"sku": sku, "name": name, "description": f"{name}.", "category": category,
                              "price_cents": price, "stock": stock, "tags": tags, "dimensions": None})
        ada = self.add_customer({"email": DEMO_EMAIL, "name": "Ada Lovelace", "password": DEMO_PASSWORD,
                                 "marketing_opt_in": True})
        self.add_customer({"email": "grace@example.com", "name": "Grace Hopper", "password": secrets.token_urlsafe(16),
                           "marketing_opt_in": False})
        self.add_review(1, {"rating": 5, "title": "Still relevant", "body": "Read it <twice>.", "author_name": "Ada"})
        self.add_review(1, {"rating": 4, "title": "Good", "body": "", "author_name": "Grace"})
        self.place_order({"customer_email": ada["email"], "items": [{"product_id": 1, "quantity": 1}], "note": "",
                          "shipping_address": {"name": "Ada Lovelace", "line1": "12 St James's Square", "line2": "",
                                               "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"}})

    # products
    def add_product(self, data: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if any(p["sku"] == data["sku"] for p in self.products.values()):
                raise Conflict(f"a product with SKU {data['sku']} exists")
            product = {**deepcopy(data), "id": self._next("products"), "currency": "EUR", "active": True,
                       "created_at": now()}
            self.products[product["id"]] = product
            return self._with_rating(product)

    def _with_rating(self, product: dict[str, Any]) -> dict[str, Any]:
        ratings = [r["rating"] for r in self.reviews.values() if r["product_id"] == product["id"]]
        return {**product, "review_count": len(ratings),
                "rating_average": round(sum(ratings) / len(ratings), 2) if ratings else None}

    def get_product(self, product_id: int) -> dict[str, Any] | None:
        with self._lock:
            product = self.products.get(product_id)
            return None if product is None else self._with_rating(product)

    def find_products(self, *, q: str | None = None, category: str | None = None, min_price: int | None = None,
                      max_price: int | None = None, include_inactive: bool = False,
                      sort: str = "name") -> list[dict[str, Any]]:
        needle = (q or "").casefold()
        with self._lock:
            found = [self._with_rating(p) for p in self.products.values()
                     if (include_inactive or p["active"])
                     and (not needle or needle in p["name"].casefold() or needle in p["description"].casefold())
                     and (category is None or p["category"] == category)
                     and (min_price is None or p["price_cents"] >= min_price)
                     and (max_price is None or p["price_cents"] <= max_price)]
        keys = {"name": lambda p: p["name"].casefold(), "price": lambda p: p["price_cents"],
                "-price": lambda p: -p["price_cents"], "newest": lambda p: -p["id"]}
        return sorted(found, key=keys[sort])

    def update_product(self, product_id: int, changes: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            product = self.products.get(product_id)
            if product is None:
                return None
            product.update(deepcopy(changes))
            return self._with_rating(product)

    def delete_product(self, product_id: int) -> bool:
        with self._lock:
            if self.products.pop(product_id, None) is None:
                return False
            self.reviews = {k: r for k, r in self.reviews.items() if r["product_id"] != product_id}
            return True

    # reviews
    def add_review(self, product_id: int, data: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            review = {**data, "id": self._next("reviews"), "product_id": product_id, "verified_purchase": False,
                      "created_at": now()}
            self.reviews[review["id"]] = review
            return dict(review)

    def product_reviews(self, product_id: int, min_rating: int = 1) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in sorted(self.reviews.values(), key=lambda r: -r["id"])
                    if r["product_id"] == product_id and r["rating"] >= min_rating]

    def delete_review(self, review_id: int) -> bool:
        with self._lock:
            return self.reviews.pop(review_id, None) is not None

    # customers
    def add_customer(self, data: dict[str, Any]) -> dict[str, Any]:
        password_hash = hash_password(data["password"])
        with self._lock:
            if any(c["email"] == data["email"] for c in self.customers.values()):
                raise Conflict("an account with this e-mail address exists")
            customer = {"id": self._next("customers"), "email": data["email"], "name": data["name"],
                        "marketing_opt_in": data["marketing_opt_in"], "loyalty_tier": "standard",
                        "password_hash": password_hash, "created_at": now()}
            self.customers[customer["id"]] = customer
            return dict(customer)

    def find_customers(self, email: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self.customers.values() if email is None or email.casefold() in c["email"]]

    def customer_by_email(self, email: str) -> dict[str, Any] | None:
        with self._lock:
            return next((dict(c) for c in self.customers.values() if c["email"] == email), None)

    def update_customer(self, customer_id: int, changes: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            customer = self.customers.get(customer_id)
            if customer is None:
                return None
            customer.update(changes)
            return dict(customer)

    def new_session(self, customer_id: int) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self.sessions[hashlib.sha256(token.encode()).hexdigest()] = (customer_id, time.time() + SESSION_TTL)
        return token

    def session_customer(self, token: str | None) -> dict[str, Any] | None:
        if not token:
            return None
        with self._lock:
            found = self.sessions.get(hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest())
            if found is None or found[1] < time.time():
                return None
            customer = self.customers.get(found[0])
            return None if customer is None else dict(customer)

    def end_session(self, token: str | None) -> None:
        if token:
            with self._lock:
                self.sessions.pop(hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest(), None)

    # orders
    def place_order(self, data: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            lines = []
            for item in data["items"]:
                product = self.products.get(item["product_id"])
                if product is None or not product["active"]:
                    raise Conflict(f"product {item['product_id']} is not available")
                if product["stock"] < item["quantity"]:
                    raise Conflict(f"only {product['stock']} of {product['sku']} in stock")
                lines.append({"product_id": product["id"], "sku": product["sku"], "name": product["name"],
                              "quantity": item["quantity"], "unit_price_cents": product["price_cents"],
                              "line_total_cents": product["price_cents"] * item["quantity"]})
            for line in lines:
                self.products[line["product_id"]]["stock"] -= line["quantity"]
            order = {"id": self._next("orders"), "status": "pending", "customer_email": data["customer_email"],
                     "items": lines, "shipping_address": deepcopy(data["shipping_address"]), "note": data["note"],
                     "total_cents": sum(line["line_total_cents"] for line in lines), "currency": "EUR",
                     "created_at": now()}
            self.orders[order["id"]] = order
            return deepcopy(order)

    def get_order(self, order_id: int) -> dict[str, Any] | None:
        with self._lock:
            order = self.orders.get(order_id)
            return None if order is None else deepcopy(order)

    def find_orders(self, status: str | None = None, customer_email: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [deepcopy(o) for o in sorted(self.orders.values(), key=lambda o: -o["id"])
                    if (status is None or o["status"] == status)
                    and (customer_email is None or o["customer_email"] == customer_email)]

    def cancel_order(self, order_id: int) -> dict[str, Any] | None:
        with self._lock:
            order = self.orders.get(order_id)
            if order is None:
                return None
            if order["status"] == "shipped":
                raise Conflict(f"order {order_id} has shipped; open a return instead")
            if order["status"] != "cancelled":
                order["status"] = "cancelled"
                for line in order["items"]:
                    if line["product_id"] in self.products:
                        self.products[line["product_id"]]["stock"] += line["quantity"]
            return deepcopy(order)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            by_status: dict[str, int] = {}
            for order in self.orders.values():
                by_status[order["status"]] = by_status.get(order["status"], 0) + 1
            return {"products": len(self.products), "customers": len(self.customers), "orders": by_status,
                    "revenue_cents": sum(o["total_cents"] for o in self.orders.values() if o["status"] != "cancelled")}


def paginate(items: list[Any], page: int, per_page: int) -> dict[str, Any]:
    start = (page - 1) * per_page
    return {"items": items[start:start + per_page], "page": page, "per_page": per_page, "total": len(items)}


# ---------------------------------------------------------------- HTTP plumbing


async def validation_errors(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's 422 without the ``input`` of each error: a rejected body may hold a password."""
    errors = [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})


_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _allow_table(app: FastAPI) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    table = getattr(app.state, "allow_table", None)
    if table is None:
        table = [(compile_path(template)[0], frozenset(m.upper() for m in item if m in _METHODS))
                 for template, item in app.openapi().get("paths", {}).items()]
        app.state.allow_table = table
    return table


async def method_not_allowed(request: Request, exc: StarletteHTTPException) -> Response:
    """A 405 whose ``Allow`` lists every documented method of the path (Starlette names only the first route's)."""
    methods = {m for pattern, allowed in _allow_table(request.app) if pattern.match(request.url.path) for m in allowed}
    if methods:
        exc.headers = {**(exc.headers or {}), "Allow": ", ".join(sorted(methods))}
    return await http_exception_handler(request, exc)


def install_error_plumbing(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_errors)  # type: ignore[arg-type]
    app.add_exception_handler(405, method_not_allowed)  # type: ignore[arg-type]


def responses(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries with the ``Error`` body for the given statuses."""
    texts = {400: "The body could not be parsed", 401: "Missing or invalid credentials", 404: "Not found",
             409: "Conflicts with the current state", 429: "Too many attempts"}
    return {status: {"model": Error, "description": described.get(f"s{status}", texts.get(status, "Error"))}
            for status in statuses}
