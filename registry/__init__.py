"""Provider QA Registry: education providers, their ESG quality assurance and trust verdicts."""

from sqlmodel import SQLModel

# Constraint names must be the same on SQLite and PostgreSQL for migrations to apply on both.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
