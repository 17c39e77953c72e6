"""The app factory; ``app`` is the WSGI app (``flask --app flask_store_app.app run``)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_jwt_extended import JWTManager
from flask_smorest import Api

from .config import load_config
from .db import db
from .errors import register_error_handlers, register_jwt_callbacks
from .resources import health, item, store, tag, user
from .security import register_user_loaders
from .seed import create_tables, seed


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(load_config())
    app.config.update(overrides or {})

    db.init_app(app)
    api = Api(app)
    jwt = JWTManager(app)
    register_jwt_callbacks(jwt)
    register_user_loaders(jwt)
    register_error_handlers(app)

    for blueprint in (health.blp, store.blp, item.blp, tag.blp, user.blp):
        api.register_blueprint(blueprint)

    with app.app_context():
        create_tables()
        seed(app)
    return app


app = create_app()
