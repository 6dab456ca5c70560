"""Who may do what, and who may see what: the one place for both.

- :mod:`.roles`: the role table and ``can(user, action, obj)``, moderator and navigation
  checks;
- :mod:`.visibility`: the visibility policy (listing labels against viewer labels) and the
  SQL filter derived from it; the search index filter derives from it in ``search/``.

The lifecycle's transition table (``services/lifecycle.py``) guards each transition with
an action of the role table.
"""

from .roles import (
    PERMISSIONS,
    RELATIONS,
    can,
    coordinators_of,
    is_mirrored,
    is_moderator,
    is_officer,
    may_see_nav,
    moderated_organisations,
    relations,
)
from .visibility import (
    REVIEW_STATES,
    ViewerScope,
    can_view_listing,
    can_view_register,
    is_released,
    listing_labels,
    listing_visibility_filter,
    register_labels_of,
    register_visibility_filter,
    released_filter,
    viewer_scope,
    visible_duplicate_of,
)

__all__ = [
    "PERMISSIONS", "RELATIONS", "REVIEW_STATES", "ViewerScope", "can", "can_view_listing", "can_view_register",
    "coordinators_of", "is_mirrored", "is_moderator", "is_officer", "is_released", "listing_labels",
    "listing_visibility_filter", "register_labels_of", "register_visibility_filter", "may_see_nav", "moderated_organisations", "relations",
    "released_filter", "viewer_scope", "visible_duplicate_of",
]
