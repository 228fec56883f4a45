"""Offset pagination shared by the list endpoints."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

from server.db import MAX_ID

Limit = Annotated[int, QueryParameter(ge=1, le=500, description="Page size (1–500).")]
Offset = Annotated[int, QueryParameter(ge=0, le=MAX_ID, description="Rows to skip.")]
