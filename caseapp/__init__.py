"""caseapp: case tracking for Amazon seller reinstatement agencies."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.exceptions import NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from caseapp import cli, security
from caseapp.core.parsing import MAX_ID
from caseapp.core.sqlite import create_file_on_first_connect, enable_sqlite_pragmas
from caseapp.extensions import bootstrap, csrf, db, limiter, login_manager, migrate
from caseapp.services.accounts import invitations as invitation_mail
from caseapp.services.accounts import mail_health
from caseapp.services.accounts import passwords
from caseapp.services.appeals import dispatch
from caseapp.services.deadlines import alerts as deadline_alerts
from caseapp.services.portal import notify as portal_notify
from caseapp.views import (
    admin, api, auth, board, bulk, cases, clients, dashboard, days, deadlines, errors, evidence, form_keys, health,
    helpers, imports, inbound, invitations, poa, portal, requests, search, settings, submissions)
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
    problems = config_class.problems(app.config)
    if problems:
        raise RuntimeError("caseapp cannot start with this configuration:\n- " + "\n- ".join(problems))
    register_proxies(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)
    register_security(app)
    register_mail_kinds()
    return app


def register_proxies(app: Flask) -> None:
    """Believe X-Forwarded-For and -Proto from the TRUSTED_PROXIES nearest hops only.

    With 0 (the default) no X-Forwarded-* header is believed: request.remote_addr is the peer
    of the TCP connection, whatever a client writes. With n, the nth address from the right of
    X-Forwarded-For is the client (each proxy appends the address it saw, so what a client
    puts in front is ignored), and -Proto says whether the browser used https. X-Forwarded-Host,
    -Port and -Prefix are not believed: the proxy passes the Host header itself
    (`proxy_set_header Host $host`), and links in emails come from APP_BASE_URL, so a forged
    host could only mislead, never help.
    """
    hops = int(str(app.config["TRUSTED_PROXIES"]).strip())
    app.config["TRUSTED_PROXIES"] = hops
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        create_file_on_first_connect(db.engine, Path(app.config["INSTANCE_DIR"]))
        enable_sqlite_pragmas(db.engine)
    migrate.init_app(app, db, render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    bootstrap.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"

    login_manager.user_loader(auth.load_user)
    auth.register_idle_timeout(app)


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` limited to what an integer column holds: a bigger id is a 404, not a 500."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > MAX_ID:
            raise NotFound()  # a missing object, like any other unknown id
        return number


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    for module in (auth, invitations, portal, dashboard, board, bulk, days, clients, cases, deadlines, requests, poa, evidence,
                   submissions, inbound, search, imports, admin, settings, api, health):
        app.register_blueprint(module.bp)


def register_errorhandlers(app: Flask) -> None:
    errors.register(app)
    form_keys.register(app)  # after the session hooks: a form's key joins what the view saves


def register_template_helpers(app: Flask) -> None:
    helpers.register(app)


def register_commands(app: Flask) -> None:
    cli.register(app)


def register_security(app: Flask) -> None:
    security.register(app)


def register_mail_kinds() -> None:
    """Each feature tells the mail package about its kinds of mail: the secret links they
    carry, and the hooks delivery tells the feature's outcomes through (services/mail/kinds.py)."""
    invitation_mail.register_mail_kinds()
    mail_health.register_mail_kinds()
    passwords.register_mail_kinds()
    dispatch.register_mail_kinds()
    deadline_alerts.register_mail_kinds()
    portal_notify.register_mail_kinds()
