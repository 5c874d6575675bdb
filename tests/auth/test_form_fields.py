"""Form inputs render with their own types: passwords are never shown in clear."""

from __future__ import annotations

import re

import pytest


def inputs(html: str) -> dict[str, str]:
    """id -> the opening tag of every input/select of a page that has an id
    (the header's hidden inputs have none)."""
    tags = re.findall(r"<(?:input|select)\b[^>]*>", html)
    return {m.group(1): t for t in tags if (m := re.search(r'\sid="([^"]+)"', t))}


@pytest.mark.parametrize(
    "path, passwords",
    [("/login", ["password"]), ("/register", ["password", "password2"])],
)
def test_password_inputs_are_password_type(client, path, passwords):
    html = client.get(path).get_data(as_text=True)
    found = inputs(html)
    for name in passwords:
        assert 'type="password"' in found[name], found[name]
    assert '"None"' not in html
    assert 'type="tel"' in found["phone"] and 'inputmode="numeric"' in found["phone"]


def test_field_errors_mark_the_input_invalid(client):
    from tests.auth.test_views import form_token

    token = form_token(client, "/login")
    r = client.post("/login", data={"csrf_token": token, "phone": "", "password": ""})
    found = inputs(r.get_data(as_text=True))
    assert 'aria-invalid="true"' in found["phone"]
    assert 'type="password"' in found["password"]
    assert (
        "aria-invalid"
        not in inputs(client.get("/login").get_data(as_text=True))["phone"]
    )
