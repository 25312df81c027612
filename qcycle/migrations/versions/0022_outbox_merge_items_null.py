"""``outbox_message.merge_items``: SQL NULL on rows that are not merged reminders. Rows queued
through Core stored Python's None as the JSON text ``null``, so ``merge_items IS NOT NULL`` (a
reminder: what the claim and the held-reminders query ask) held for every row; the column now
stores None as SQL NULL (``none_as_null``), and this revision turns the stored ``null`` texts
into NULL.

Revision ID: 0022_outbox_merge_items_null
Revises: 0021_submission_one_key
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022_outbox_merge_items_null"
down_revision: str | Sequence[str] | None = "0021_submission_one_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # PostgreSQL's json has no equality operator: compare its text.
    text = "merge_items::text" if op.get_bind().dialect.name == "postgresql" else "merge_items"
    op.execute(f"UPDATE outbox_message SET merge_items = NULL WHERE {text} = 'null'")


def downgrade() -> None:
    # Back as the code before stored them: its held-reminders query counted these rows too.
    null = "CAST('null' AS json)" if op.get_bind().dialect.name == "postgresql" else "'null'"
    op.execute(f"UPDATE outbox_message SET merge_items = {null} WHERE merge_items IS NULL")
