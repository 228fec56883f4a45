"""Move-in inspections: the signed form, its answers, its meter base readings

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "move_in_inspections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("first_inspection_id", sa.String(length=36), nullable=True),
        sa.Column("owner_name", sa.String(length=100), nullable=False),
        sa.Column("owner_phone", sa.String(length=32), nullable=True),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("proxy_name", sa.String(length=100), nullable=True),
        sa.Column("proxy_phone", sa.String(length=32), nullable=True),
        sa.Column("power_of_attorney", sa.String(length=500), nullable=True),
        sa.Column("proxy_attachment_id", sa.String(length=36), nullable=True),
        sa.Column("staff", JSON, nullable=False),
        sa.Column("inspector_id", sa.Integer(), nullable=True),
        sa.Column("inspector_name", sa.String(length=100), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("template", sa.String(length=32), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("handed_over_at", UTC, nullable=False),
        sa.Column("device_time", UTC, nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("keys", sa.Integer(), nullable=False),
        sa.Column("access_cards", JSON, nullable=False),
        sa.Column("electricity_card", sa.String(length=64), nullable=True),
        sa.Column("water_card", sa.String(length=64), nullable=True),
        sa.Column("gas_card", sa.String(length=64), nullable=True),
        sa.Column("owner_signature_id", sa.String(length=36), nullable=False),
        sa.Column("staff_signature_id", sa.String(length=36), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("defects", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_move_in_inspections_site_id_sites"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["building_id"], ["buildings.id"],
                                name=op.f("fk_move_in_inspections_building_id_buildings"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_move_in_inspections_unit_id_units"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["first_inspection_id"], ["move_in_inspections.id"],
                                name=op.f("fk_move_in_inspections_first_inspection_id_move_in_inspections"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"],
                                name=op.f("fk_move_in_inspections_resident_id_residents"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["proxy_attachment_id"], ["attachments.id"],
                                name=op.f("fk_move_in_inspections_proxy_attachment_id_attachments"),
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["inspector_id"], ["staff_users.id"],
                                name=op.f("fk_move_in_inspections_inspector_id_staff_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["owner_signature_id"], ["attachments.id"],
                                name=op.f("fk_move_in_inspections_owner_signature_id_attachments"),
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["staff_signature_id"], ["attachments.id"],
                                name=op.f("fk_move_in_inspections_staff_signature_id_attachments"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_move_in_inspections")),
    )
    with op.batch_alter_table("move_in_inspections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_move_in_inspections_building_id"), ["building_id"], unique=False)
        batch_op.create_index("ix_move_in_inspections_unit_handed", ["unit_id", "handed_over_at"], unique=False)

    op.create_table(
        "move_in_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inspection_id", sa.String(length=36), nullable=False),
        sa.Column("item", sa.String(length=48), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("photo_id", sa.String(length=36), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["inspection_id"], ["move_in_inspections.id"],
                                name=op.f("fk_move_in_answers_inspection_id_move_in_inspections"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["photo_id"], ["attachments.id"],
                                name=op.f("fk_move_in_answers_photo_id_attachments"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_move_in_answers_ticket_id_tickets"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_move_in_answers")),
        sa.UniqueConstraint("inspection_id", "item", name=op.f("uq_move_in_answers_inspection_id_item")),
    )

    op.create_table(
        "move_in_readings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inspection_id", sa.String(length=36), nullable=False),
        sa.Column("quantity", sa.String(length=16), nullable=False),
        sa.Column("uom", sa.String(length=8), nullable=False),
        sa.Column("typed_value", sa.Double(), nullable=False),
        sa.Column("photo_id", sa.String(length=36), nullable=False),
        sa.Column("smart_device_id", sa.Integer(), nullable=True),
        sa.Column("smart_device", sa.String(length=64), nullable=True),
        sa.Column("smart_value", sa.Double(), nullable=True),
        sa.Column("smart_at", UTC, nullable=True),
        sa.Column("difference", sa.Double(), nullable=True),
        sa.Column("tolerance", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opening_value", sa.Double(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["inspection_id"], ["move_in_inspections.id"],
                                name=op.f("fk_move_in_readings_inspection_id_move_in_inspections"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["photo_id"], ["attachments.id"],
                                name=op.f("fk_move_in_readings_photo_id_attachments"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["smart_device_id"], ["devices.id"],
                                name=op.f("fk_move_in_readings_smart_device_id_devices"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_move_in_readings_ticket_id_tickets"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_move_in_readings")),
        sa.UniqueConstraint("inspection_id", "quantity", name=op.f("uq_move_in_readings_inspection_id_quantity")),
    )


def downgrade() -> None:
    op.drop_table("move_in_readings")
    op.drop_table("move_in_answers")
    with op.batch_alter_table("move_in_inspections", schema=None) as batch_op:
        batch_op.drop_index("ix_move_in_inspections_unit_handed")
        batch_op.drop_index(batch_op.f("ix_move_in_inspections_building_id"))
    op.drop_table("move_in_inspections")
