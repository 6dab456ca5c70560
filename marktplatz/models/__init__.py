"""Typed SQLAlchemy models; importing this package registers every table."""

from .activity import (
    ApiToken,
    AuditEvent,
    ChangeLog,
    Notification,
    SearchState,
    Webhook,
    WebhookDelivery,
)
from .base import Base, utcnow
from .catalogue import Lebenslage, LeikaLeistung, OzgLeistung, Themenfeld
from .listing import (
    Flag,
    Follow,
    Listing,
    ListingStatus,
    ListingTag,
    OzgFollow,
    Reuse,
    ReuseStageChange,
    StatusUpdate,
    listing_leika,
    listing_ozg,
)
from .municipality import Land, Organisation, valid_ags
from .network import JoinRequest, Network, NetworkCoordinator, NetworkMembership
from .user import User

__all__ = [
    "ApiToken", "AuditEvent", "Base", "ChangeLog", "Flag", "Follow", "JoinRequest", "Land",
    "Lebenslage", "LeikaLeistung", "Listing", "ListingStatus", "ListingTag", "Network", "NetworkCoordinator",
    "NetworkMembership", "Notification", "Organisation", "OzgFollow", "OzgLeistung", "Reuse",
    "ReuseStageChange", "SearchState", "StatusUpdate", "Themenfeld", "User", "Webhook",
    "WebhookDelivery", "listing_leika", "listing_ozg", "utcnow", "valid_ags",
]
