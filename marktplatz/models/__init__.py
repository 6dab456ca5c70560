"""Typed SQLAlchemy models; importing this package registers every table."""

from .access_request import AccessRequest
from .audit import AuditEvent
from .base import Base, utcnow
from .catalogue import Lebenslage, LeikaLeistung, OzgLeistung, Themenfeld
from .changelog import ChangeLog, SearchState
from .federation import FederationSource
from .feedback import AccessibilityFeedback
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
from .network import JoinRequest, Network, NetworkCoordinator, NetworkInvitation, NetworkMembership
from .notification import Notification
from .process_register import ProcessEntry, ProcessRegister
from .reuse_suggestion import ReuseSuggestion
from .throttle import LoginThrottle
from .token import ApiToken
from .user import User
from .webhook import Webhook, WebhookDelivery

__all__ = [
    "AccessRequest", "AccessibilityFeedback", "ApiToken", "AuditEvent", "Base", "ChangeLog", "FederationSource", "Flag", "Follow", "JoinRequest", "Land",
    "Lebenslage", "LeikaLeistung", "Listing", "LoginThrottle", "ListingStatus", "ListingTag", "Network", "NetworkCoordinator",
    "NetworkInvitation", "NetworkMembership", "Notification", "Organisation", "ProcessEntry", "ProcessRegister", "OzgFollow", "OzgLeistung", "Reuse",
    "ReuseStageChange", "ReuseSuggestion", "SearchState", "StatusUpdate", "Themenfeld", "User", "Webhook",
    "WebhookDelivery", "listing_leika", "listing_ozg", "utcnow", "valid_ags",
]
