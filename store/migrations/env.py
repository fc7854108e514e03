"""Alembic environment: migrations always run on a connection the store hands over."""

from alembic import context

import store.crm.tables  # noqa: F401 - the CRM's tables join the metadata
import store.schema_outbox  # noqa: F401 - the outbox table joins the metadata
import store.schema_sharing  # noqa: F401 - the sharing and audit tables join the metadata
from store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
