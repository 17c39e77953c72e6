"""Orders API (FastAPI) -- the BUGGY twin of ``orders_fastapi_fixed.py``: every operation but
``/health`` needs ``Authorization: Bearer <token>``. Each seeded defect is marked
``# DEFECT: <rule-id>:``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ConfigDict

try:
    from . import _orders_db as db
    from . import _users_db as plumbing
except ImportError:
    import _orders_db as db  # type: ignore[no-redef]
    import _users_db as plumbing  # type: ignore[no-redef]

# auto_error=False so the revenue report can greet anonymous visitors on the status page...
bearer = HTTPBearer(auto_error=False)
Token = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def require_token(credentials: Token) -> None:
    db.check_token(credentials)


class OrderUpdate(db.OrderUpdateStrict):
    # DEFECT: mass-assignment: "allow" so newer mobile clients can send fields we do not know yet;
    # the store then takes every column it has, status and total_cents included.
    model_config = ConfigDict(extra="allow")


def create_app() -> FastAPI:
    app = FastAPI(title="Orders (buggy)", version="1.0.0")
    app.state.orders = db.OrderBook()

    @app.get("/health", response_model=db.Health)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/orders/{order_id}", response_model=db.Order, dependencies=[Depends(require_token)],
             responses={**db.UNAUTHORIZED, **db.NOT_FOUND})
    def get_order(order_id: Annotated[int, Path(ge=1, le=db.MAX_ID)]) -> Any:
        order = app.state.orders.get(order_id)
        if order is None:
            raise HTTPException(404, f"order {order_id} not found")
        return order

    @app.patch("/orders/{order_id}", response_model=db.Order, dependencies=[Depends(require_token)],
               responses={**db.UNAUTHORIZED, **db.NOT_FOUND, **plumbing.BAD_BODY})
    def update_order(order_id: Annotated[int, Path(ge=1, le=db.MAX_ID)], body: OrderUpdate) -> Any:
        order = app.state.orders.update(order_id, body.model_dump(exclude_unset=True, exclude_none=True))
        if order is None:
            raise HTTPException(404, f"order {order_id} not found")
        return order

    @app.get("/reports/revenue", response_model=db.Revenue, responses=db.UNAUTHORIZED)
    def revenue(credentials: Token) -> Any:
        # DEFECT: auth-ignored: the optional dependency documents bearer auth, but nothing
        # rejects a request without a token.
        return app.state.orders.revenue()

    plumbing.install_error_plumbing(app)

    @app.middleware("http")
    async def nosniff(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return app


app = create_app()
