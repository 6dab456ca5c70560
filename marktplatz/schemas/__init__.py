"""Marshmallow schemas shared by the REST API and the HTML forms."""

from .listing import ListingSchema, ReuseSchema, StatusUpdateSchema

__all__ = ["ListingSchema", "ReuseSchema", "StatusUpdateSchema"]
