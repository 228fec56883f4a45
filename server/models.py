"""Every table, imported in one place for Alembic and the drift test."""

from server.attachments.models import Attachment
from server.auth.models import StaffUser, staff_buildings
from server.db import Base
from server.devices.models import Device, DeviceEvent, MeterReading
from server.estates.models import AccessCard, Building, Resident, Site, Unit
from server.ingest.models import DeadLetter
from server.rules.models import AlarmCondition, IntercomCall
from server.tickets.models import ClientAction, DeskEvent, Ticket, TicketAttachment, TicketAudit

__all__ = [
    "AccessCard",
    "AlarmCondition",
    "Attachment",
    "Base",
    "Building",
    "ClientAction",
    "DeadLetter",
    "DeskEvent",
    "Device",
    "DeviceEvent",
    "IntercomCall",
    "MeterReading",
    "Resident",
    "Site",
    "StaffUser",
    "Ticket",
    "TicketAttachment",
    "TicketAudit",
    "Unit",
    "staff_buildings",
]
