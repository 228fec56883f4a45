"""Patrols: checkpoints, scans, patrol runs and answers, plausibility flags, phone syncs

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("floor", sa.Integer(), nullable=True),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("place", sa.String(length=24), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("template", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_checkpoints_site_id_sites"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["building_id"], ["buildings.id"],
                                name=op.f("fk_checkpoints_building_id_buildings"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_checkpoints_unit_id_units"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoints")),
        sa.UniqueConstraint("building_id", "slug", name=op.f("uq_checkpoints_building_id_slug")),
    )
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkpoints_building_id"), ["building_id"], unique=False)

    op.create_table(
        "patrol_scans",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("scanned_at", UTC, nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["checkpoint_id"], ["checkpoints.id"],
                                name=op.f("fk_patrol_scans_checkpoint_id_checkpoints"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"],
                                name=op.f("fk_patrol_scans_user_id_staff_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_scans")),
    )
    with op.batch_alter_table("patrol_scans", schema=None) as batch_op:
        batch_op.create_index("ix_patrol_scans_user_at", ["user_id", "scanned_at"], unique=False)

    op.create_table(
        "patrol_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("template", sa.String(length=32), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("defects", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["checkpoint_id"], ["checkpoints.id"],
                                name=op.f("fk_patrol_runs_checkpoint_id_checkpoints"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"],
                                name=op.f("fk_patrol_runs_user_id_staff_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_runs")),
    )
    with op.batch_alter_table("patrol_runs", schema=None) as batch_op:
        batch_op.create_index("ix_patrol_runs_checkpoint_finished", ["checkpoint_id", "finished_at"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_patrol_runs_user_id"), ["user_id"], unique=False)

    op.create_table(
        "patrol_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("item", sa.String(length=48), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=True),
        sa.Column("number", sa.Double(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("photo_id", sa.String(length=36), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["patrol_runs.id"],
                                name=op.f("fk_patrol_answers_run_id_patrol_runs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["photo_id"], ["attachments.id"],
                                name=op.f("fk_patrol_answers_photo_id_attachments"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_patrol_answers_ticket_id_tickets"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_answers")),
        sa.UniqueConstraint("run_id", "item", name=op.f("uq_patrol_answers_run_id_item")),
    )

    op.create_table(
        "patrol_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("checkpoint_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.String(length=36), nullable=True),
        sa.Column("at", UTC, nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"],
                                name=op.f("fk_patrol_flags_user_id_staff_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["checkpoint_id"], ["checkpoints.id"],
                                name=op.f("fk_patrol_flags_checkpoint_id_checkpoints"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["patrol_runs.id"],
                                name=op.f("fk_patrol_flags_run_id_patrol_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_flags")),
    )
    with op.batch_alter_table("patrol_flags", schema=None) as batch_op:
        batch_op.create_index("ix_patrol_flags_user_at", ["user_id", "at"], unique=False)

    op.create_table(
        "patrol_devices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("app_version", sa.String(length=32), nullable=True),
        sa.Column("last_sync_at", UTC, nullable=False),
        sa.Column("last_device_time", UTC, nullable=True),
        sa.Column("clock_offset_s", sa.Double(), nullable=True),
        sa.Column("items_synced", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"],
                                name=op.f("fk_patrol_devices_user_id_staff_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_devices")),
    )


def downgrade() -> None:
    op.drop_table("patrol_devices")
    with op.batch_alter_table("patrol_flags", schema=None) as batch_op:
        batch_op.drop_index("ix_patrol_flags_user_at")
    op.drop_table("patrol_flags")
    op.drop_table("patrol_answers")
    with op.batch_alter_table("patrol_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patrol_runs_user_id"))
        batch_op.drop_index("ix_patrol_runs_checkpoint_finished")
    op.drop_table("patrol_runs")
    with op.batch_alter_table("patrol_scans", schema=None) as batch_op:
        batch_op.drop_index("ix_patrol_scans_user_at")
    op.drop_table("patrol_scans")
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkpoints_building_id"))
    op.drop_table("checkpoints")
