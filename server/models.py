"""Every table, imported in one place for Alembic and the drift test."""

from server.auth.models import StaffUser, staff_buildings
from server.db import Base
from server.devices.models import Device, DeviceEvent
from server.estates.models import Building, Resident, Site, Unit
from server.tickets.models import Ticket, TicketAudit

__all__ = [
    "Base",
    "Building",
    "Device",
    "DeviceEvent",
    "Resident",
    "Site",
    "StaffUser",
    "Ticket",
    "TicketAudit",
    "Unit",
    "staff_buildings",
]
