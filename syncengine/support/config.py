"""A project's portal configuration, as the support service and its checks use it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SupportConfig"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SupportConfig:
    """What a project's portal offers and accepts (``[projects.<slug>.support]``)."""

    name: str = ""
    labels: tuple[str, ...] = ("Bug", "Enhancement", "Question")
    categories: tuple[str, ...] = ("Payment", "Customer", "Other Request")
    api_products: tuple[str, ...] = ()
    max_attachment_bytes: int = 10 * 1024 * 1024
    attachment_types: tuple[str, ...] = (
        "image/png",
        "image/jpeg",
        "text/plain",
        "application/pdf",
        "application/zip",
        "application/json",
    )
