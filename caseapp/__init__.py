"""caseapp: case tracking for Amazon seller reinstatement agencies."""
from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from config import Config, config_from_env


def create_app(config_class: type[Config] | None = None) -> Flask:
    config_class = config_class or config_from_env()
    app = Flask(__name__, template_folder="../templates", instance_relative_config=True)
    app.config.from_object(config_class)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config_class.init_secret()
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS", config_class.engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
    )
    for name in ("FOLLOW_UP_HOURS", "FOLLOW_UP_REPEAT_HOURS"):
        if int(app.config[name]) < 1:
            raise RuntimeError(f"{name} must be at least 1 hour, not {app.config[name]}")
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)
    register_security(app)
    return app


def register_extensions(app: Flask) -> None:
    from caseapp.extensions import bootstrap, csrf, db, limiter, login_manager, migrate
    from caseapp.sqlite import enable_sqlite_pragmas

    db.init_app(app)
    with app.app_context():
        enable_sqlite_pragmas(db.engine)
    migrate.init_app(app, db, render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    bootstrap.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"

    from caseapp.views.auth import load_user, register_idle_timeout

    login_manager.user_loader(load_user)
    register_idle_timeout(app)


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` limited to what an integer column holds: a bigger id is a 404, not a 500."""

    def to_python(self, value: str) -> int:
        from caseapp.services.parsing import MAX_ID

        number = super().to_python(value)
        if number > MAX_ID:
            raise NotFound()  # a missing object, like any other unknown id
        return number


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    from caseapp.views import (
        admin, api, auth, cases, clients, dashboard, evidence, health, poa, settings, submissions)

    for module in (auth, dashboard, clients, cases, poa, evidence, submissions, admin, settings, api,
                   health):
        app.register_blueprint(module.bp)


def register_errorhandlers(app: Flask) -> None:
    from caseapp.views.errors import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from caseapp.views.helpers import register

    register(app)


def register_commands(app: Flask) -> None:
    from caseapp.cli import register

    register(app)


def register_security(app: Flask) -> None:
    from caseapp.security import register

    register(app)
