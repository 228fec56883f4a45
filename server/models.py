"""Every table, imported in one place for Alembic and the drift test."""

from server.attachments.models import Attachment
from server.auth.models import StaffUser, staff_buildings
from server.calendar.models import CalendarDay
from server.db import Base
from server.devices.models import Device, DeviceEvent, MeterReading
from server.estates.models import AccessCard, Building, Resident, Site, Unit
from server.ingest.models import DeadLetter
from server.movein.models import MoveInAnswer, MoveInInspection, MoveInReading
from server.patrols.models import (
    Checkpoint,
    PatrolAnswer,
    PatrolDevice,
    PatrolFlag,
    PatrolRun,
    PatrolScan,
)
from server.push.models import PushDelivery, PushSubscription, VapidKey
from server.rules.models import AlarmCondition, IntercomCall
from server.sla.models import Escalation, SlaBreach
from server.tickets.models import ClientAction, DeskEvent, Ticket, TicketAttachment, TicketAudit

__all__ = [
    "AccessCard",
    "AlarmCondition",
    "Attachment",
    "Base",
    "Building",
    "CalendarDay",
    "Checkpoint",
    "ClientAction",
    "DeadLetter",
    "DeskEvent",
    "Device",
    "DeviceEvent",
    "Escalation",
    "IntercomCall",
    "MeterReading",
    "MoveInAnswer",
    "MoveInInspection",
    "MoveInReading",
    "PatrolAnswer",
    "PatrolDevice",
    "PatrolFlag",
    "PatrolRun",
    "PatrolScan",
    "PushDelivery",
    "PushSubscription",
    "Resident",
    "Site",
    "SlaBreach",
    "StaffUser",
    "Ticket",
    "TicketAttachment",
    "TicketAudit",
    "Unit",
    "VapidKey",
    "staff_buildings",
]
