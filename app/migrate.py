"""Run Alembic migrations from code (no alembic.ini needed)."""

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from app.db_roles import grant_app_role
from app.settings import PROJECT_ROOT, get_settings


def alembic_config(url: str | None = None) -> Config:
    """Return an Alembic config pointing at migrations/, optionally at another database."""
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if url:
        config.attributes["url"] = url
    return config


def upgrade(url: str | None = None, app_url: str | None = None) -> None:
    """Migrate the database to the newest revision, as the owner (default: its URL).

    With `app_url`, whose role differs from the owner's, that role is then granted what the
    API needs on every object: servers whose roles were made without the owner's default
    privileges (app/db_roles.py) would otherwise leave new tables out of its reach.
    """
    owner_url = make_url(url or get_settings().owner_sqlalchemy_url)
    command.upgrade(alembic_config(owner_url.render_as_string(hide_password=False)), "head")
    app_role = make_url(app_url).username if app_url else None
    owner = owner_url.username
    if app_role and app_role != owner:
        if owner is None:
            raise ValueError(
                f"the owner's URL names no role: cannot grant {app_role} "
                "the privileges on the owner's objects"
            )
        plain = owner_url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain, autocommit=True) as conn:
            grant_app_role(conn, owner, app_role)
