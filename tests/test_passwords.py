"""Password rules: at least 12 characters, no common password, not the e-mail or the municipality."""

from __future__ import annotations

import pytest

from marktplatz.services import accounts, passwords
from marktplatz.services.errors import Invalid

from . import factories as f

pytestmark = pytest.mark.sqlite_only


def _refusal(session, password: str, email: str = "neu@example.org", ags: str = f.FREIBURG) -> list[str]:
    """Return the messages at the password field when creating an officer, or [] if it was created."""
    try:
        accounts.create_user(session, email, "Neue Person", password, "officer", f.org(session, ags))
    except Invalid as err:
        assert set(err.errors) == {"password"}, err.errors
        return err.errors["password"]
    session.rollback()
    return []


def test_shorter_than_12_characters_is_refused(session):
    """11 characters are refused with a message naming the minimum; 12 are enough."""
    assert _refusal(session, "Bq7-zuvLr9x") == ["Das Passwort muss mindestens 12 Zeichen lang sein."]
    assert _refusal(session, "Bq7-zuvLr9xT") == []


@pytest.mark.parametrize("password", ["1q2w3e4r5t6y", "QWERTYUIOP12", "Sommer2024!!!", "!!Fussball2025", "P@ssw0rd12345"])
def test_common_passwords_are_refused(session, password):
    """A listed password, also in capitals or with digits and signs around it, is refused."""
    assert _refusal(session, password) == [passwords.TOO_COMMON]
    assert "häufig benutzter Passwörter" in passwords.TOO_COMMON


def test_shipped_list_is_large_and_lowercase():
    """The shipped list holds thousands of entries, all lowercase (matching casefolds the input)."""
    common = passwords.common_passwords()
    assert len(common) > 10_000 and "passwort" in common and "hallo123" in common
    assert all(p == p.lower() for p in list(common)[:2000])


def test_password_containing_the_email_is_refused(session):
    """The local part of the address, or a longer piece of it, may not be in the password."""
    assert _refusal(session, "anna.schmidt-2025", "anna.schmidt@freiburg.example") == [passwords.HAS_EMAIL]
    assert _refusal(session, "Mein-SCHMIDT-Garten", "anna.schmidt@freiburg.example") == [passwords.HAS_EMAIL]
    assert _refusal(session, "Mein-Kleiner-Garten", "anna.schmidt@freiburg.example") == []


def test_password_containing_the_municipality_is_refused(session):
    """The name of the user's municipality (umlauts either way) may not be in the password."""
    assert _refusal(session, "Freiburg-ist-schoen", ags=f.FREIBURG) == [passwords.HAS_MUNICIPALITY]
    assert _refusal(session, "Freiburg-ist-schoen", ags=f.KARLSRUHE) == []
    assert passwords.problems("Muenchen-leuchtet-7", "x@example.org", "München, Landeshauptstadt") == [
        passwords.HAS_MUNICIPALITY
    ]


def test_password_change_applies_the_rules_at_the_field(client, auth, session):
    """The password form names the broken rule next to the new password; a good one is taken."""
    user = f.user(session, email="jana.wolf@example.org")
    auth.login(user.email)
    for new, message in (("kurz-1234", "mindestens 12 Zeichen"), ("Passwort12345", "häufig benutzter"),
                         ("jana.wolf.2025!", "E-Mail-Adresse"), ("Freiburg-Rathaus-1", "Namen der Kommune")):
        resp = client.post("/konto/passwort", data={"current_password": f.PASSWORD, "new_password": new,
                                                    "repeat_password": new})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 422 and 'id="new_password-error"' in html and message in html, new
    ok = client.post("/konto/passwort", data={"current_password": f.PASSWORD, "new_password": "Laterne-Bus-Kiesel-7",
                                              "repeat_password": "Laterne-Bus-Kiesel-7"})
    assert ok.status_code == 302


def test_cli_refuses_a_weak_password(runner, session):
    """`marktplatz user create` refuses a common password and says why."""
    result = runner.invoke(args=["user", "create", "--email", "neu@example.org", "--name", "Neu", "--ags", f.FREIBURG,
                                 "--password", "password1234"])
    assert result.exit_code != 0 and "häufig benutzter Passwörter" in result.output
