"""Smaller rows: trust list entries stored deflated, indexes nothing reads dropped

Revision ID: 0012
Revises: 0010

A trust list entry holds the provider's whole timeline as canonical JSON (about 2.6 kB at a
typical provider, one SQLite page each); deflated it takes about 0.8 kB. The indexes dropped
serve no query: provider names are searched by LIKE '%text%' on folded (no b-tree helps), the
agency's results are found through uq_qa_result_agency_local_id (agency_id first), and nothing
looks a programme up by its identifier.
"""

import zlib
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAGE = 1000
_INDEXES = (
    ("provider_name", "ix_provider_name_name", ["name"]),
    ("provider_name", "ix_provider_name_folded", ["folded"]),
    ("qa_result", "ix_qa_result_agency_id", ["agency_id"]),
    ("qa_result_programme", "ix_qa_result_programme_identifier", ["identifier"]),
)


def _recode(convert: Callable[[bytes | str], bytes | str]) -> None:
    """Rewrite every entry with convert, a page of providers at a time."""
    entries = sa.table("trust_list_entry", sa.column("provider_id", sa.Integer), sa.column("entry"))
    connection = op.get_bind()
    last = -1
    while True:
        rows = connection.execute(
            sa.select(entries.c.provider_id, entries.c.entry)
            .where(entries.c.provider_id > last, entries.c.entry.is_not(None))
            .order_by(entries.c.provider_id)
            .limit(_PAGE)
        ).all()
        for provider_id, entry in rows:
            connection.execute(
                sa.text("UPDATE trust_list_entry SET entry = :entry WHERE provider_id = :id"),
                {"entry": convert(entry), "id": provider_id},
            )
        if len(rows) < _PAGE:
            return
        last = rows[-1][0]


def _deflate(entry: bytes | str) -> bytes:
    # SQLite keeps the text a copied column held; PostgreSQL's convert_to gave its UTF-8 bytes.
    return zlib.compress(entry.encode() if isinstance(entry, str) else bytes(entry), 6)


def _inflate(entry: bytes | str) -> bytes | str:
    text = zlib.decompress(bytes(entry) if not isinstance(entry, str) else entry.encode("latin-1"))
    # PostgreSQL turns the bytes into text with convert_from afterwards; SQLite stores the text itself.
    return text if op.get_bind().dialect.name == "postgresql" else text.decode()


def upgrade() -> None:
    for table, name, _columns in _INDEXES:
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("trust_list_entry", schema=None) as batch_op:
        batch_op.alter_column(
            "entry",
            existing_type=sa.Text(),
            type_=sa.LargeBinary(),
            existing_nullable=True,
            postgresql_using="convert_to(entry, 'UTF8')",
        )
    _recode(_deflate)


def downgrade() -> None:
    # Inflated before the column changes type: the copy SQLite's batch mode makes casts the values to text.
    _recode(_inflate)
    with op.batch_alter_table("trust_list_entry", schema=None) as batch_op:
        batch_op.alter_column(
            "entry",
            existing_type=sa.LargeBinary(),
            type_=sa.Text(),
            existing_nullable=True,
            postgresql_using="convert_from(entry, 'UTF8')",
        )
    for table, name, columns in _INDEXES:
        op.create_index(name, table, columns, unique=False)
