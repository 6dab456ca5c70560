"""The confirmation step of every destructive action, in one place.

A destructive form posts to its action's own URL. Without ``bestaetigt=ja`` the view
answers with this page instead of acting: it names what will happen, repeats the posted
values as hidden fields and offers one danger button and a way back. It works without
JavaScript, and a test can see that nothing changed before the second POST.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import render_template, request

CONFIRMED = "bestaetigt"


def confirmed() -> bool:
    """Tell whether this POST is the confirmed second step."""
    return request.form.get(CONFIRMED) == "ja"


def confirm_page(title: str, text: str | list[str], button: str, action: str, cancel_url: str,
                 cancel_label: str = "Abbrechen", hidden: Mapping[str, Any] | None = None,
                 comment_label: str | None = None, comment_name: str = "comment",
                 errors: dict | None = None, status: int = 200, details: str | None = None,
                 **context: Any) -> tuple[str, int]:
    """Render the confirmation step.

    text is one paragraph or several (what will happen); hidden repeats form values the
    action needs; comment_label adds an optional text field; details names a template
    included above the form (e.g. the side-by-side view of a merge) with context.
    """
    paragraphs = [text] if isinstance(text, str) else list(text)
    return render_template(
        "confirm.html", title=title, paragraphs=paragraphs, button=button, action=action,
        cancel_url=cancel_url, cancel_label=cancel_label, hidden=dict(hidden or {}),
        comment_label=comment_label, comment_name=comment_name, errors=errors or {},
        form=request.form, details=details, **context,
    ), status
