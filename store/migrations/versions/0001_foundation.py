"""Foundation: principals, roles, operations, settings, providers, domains, mailboxes, sync state.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "principals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("display_name", sa.String(256), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('user', 'role')", name="ck_principals_kind"),
    )
    op.create_table(
        "role_members",
        sa.Column(
            "role_id", sa.Integer, sa.ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "member_id", sa.Integer, sa.ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.CheckConstraint("role_id <> member_id", name="ck_role_members_not_self"),
    )
    op.create_table(
        "operation_grants",
        sa.Column("operation", sa.String(64), primary_key=True),
        sa.Column(
            "principal_id", sa.Integer, sa.ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
        ),
    )
    op.create_table(
        "system_settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "providers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("imap_host", sa.String(255), nullable=False),
        sa.Column("imap_port", sa.Integer, nullable=False),
        sa.Column("imap_tls", sa.String(16), nullable=False),
        sa.Column("smtp_host", sa.String(255), nullable=False),
        sa.Column("smtp_port", sa.Integer, nullable=False),
        sa.Column("smtp_tls", sa.String(16), nullable=False),
        sa.Column("auth_kind", sa.String(16), nullable=False, server_default="password"),
        sa.Column("login_format", sa.String(16), nullable=False, server_default="address"),
        sa.Column("app_password_required", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("help_url", sa.Text, nullable=False, server_default=""),
        sa.Column("ca_file", sa.Text, nullable=False, server_default=""),
        sa.Column("mx_suffixes", sa.Text, nullable=False, server_default=""),
        sa.Column("builtin", sa.Boolean, nullable=False, server_default="0"),
        sa.CheckConstraint("imap_tls IN ('ssl', 'starttls')", name="ck_providers_imap_tls"),
        sa.CheckConstraint("smtp_tls IN ('ssl', 'starttls')", name="ck_providers_smtp_tls"),
        sa.CheckConstraint("auth_kind IN ('password', 'app_password', 'oauth2')", name="ck_providers_auth"),
        sa.CheckConstraint("login_format IN ('address', 'local_part', 'ask')", name="ck_providers_login"),
    )
    op.create_table(
        "provider_domains",
        sa.Column("domain", sa.String(255), primary_key=True),
        sa.Column(
            "provider_id", sa.Integer, sa.ForeignKey("providers.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("source", sa.String(16), nullable=False, server_default="admin"),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "mailboxes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column(
            "owner_id", sa.Integer, sa.ForeignKey("principals.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column(
            "provider_id", sa.Integer, sa.ForeignKey("providers.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("login", sa.String(320), nullable=False),
        sa.Column("secret_ref", sa.String(128), nullable=False),
        sa.Column("password_command", sa.Text, nullable=False, server_default=""),
        sa.Column("load_period", sa.String(16), nullable=False, server_default="week"),
        sa.Column("auto_load", sa.Boolean, nullable=False, server_default="1"),
        sa.Column("folder_scope", sa.String(16), nullable=False, server_default="inbox"),
        sa.Column("send_enabled", sa.Boolean, nullable=False, server_default="1"),
        sa.Column("alias", sa.String(256), nullable=False, server_default=""),
        sa.Column("is_default_sender", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("use_signature", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("signature", sa.Text, nullable=False, server_default=""),
        sa.Column("status", sa.String(24), nullable=False, server_default="ok"),
        sa.Column("status_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_sync_at", TS),
        sa.CheckConstraint(
            "load_period IN ('day', 'week', 'month', '3months', '6months', 'year', 'all')",
            name="ck_mailboxes_period",
        ),
        sa.CheckConstraint("folder_scope IN ('inbox', 'all', 'selected')", name="ck_mailboxes_scope"),
        sa.CheckConstraint("status IN ('ok', 'needs_attention')", name="ck_mailboxes_status"),
    )
    op.create_table(
        "mailbox_selected_folders",
        sa.Column(
            "mailbox_id", sa.Integer, sa.ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("folder", sa.Text, primary_key=True),
    )
    op.create_table(
        "sync_folders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "mailbox_id", sa.Integer, sa.ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("delimiter", sa.String(4), nullable=False, server_default="/"),
        sa.Column("uidvalidity", sa.Integer),
        sa.Column("uidnext", sa.Integer),
        sa.Column("highest_uid", sa.Integer, nullable=False, server_default="0"),
        sa.Column("highestmodseq", sa.Integer),
        sa.Column("lowest_uid_loaded", sa.Integer),
        sa.Column("since_loaded", sa.String(10)),
        sa.Column("last_sync_at", TS),
        sa.Column("gone", sa.Boolean, nullable=False, server_default="0"),
        sa.UniqueConstraint("mailbox_id", "name", name="uq_sync_folders_mailbox_name"),
    )


def downgrade() -> None:
    for table in (
        "sync_folders",
        "mailbox_selected_folders",
        "mailboxes",
        "provider_domains",
        "providers",
        "system_settings",
        "operation_grants",
        "role_members",
        "principals",
    ):
        op.drop_table(table)
