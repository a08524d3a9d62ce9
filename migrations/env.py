"""Alembic environment: the ORM metadata in app.models is the source of truth."""

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine

from app.models import Base
from app.settings import get_settings

target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to):
    """Leave PostGIS's own tables alone."""
    return not (type_ == "table" and reflected and compare_to is None)


def run_migrations_online() -> None:
    # Schema changes need the owner role; the API's role may only read and write rows.
    url = context.config.attributes.get("url") or get_settings().owner_sqlalchemy_url
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            compare_type=True,
            process_revision_directives=alembic_helpers.writer,
            render_item=alembic_helpers.render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
