"""Login and registration limits: one counter per action for page and API,
failures only, per phone and client network with a looser global cap."""

from __future__ import annotations

import pytest

from quiz_app.auth.limits import client_network
from tests.auth.test_views import form_token
from tests.conftest import TEST_PASSWORD

ATTACKER = "198.51.100.7"
OWNER = "203.0.113.5"


def api_login(api, phone, password, ip="127.0.0.1"):
    return api.client.post(
        "/api/v1/auth/login",
        json={"phone": phone, "password": password},
        headers={"X-CSRFToken": api.token()},
        environ_base={"REMOTE_ADDR": ip},
    ).status_code


def page_login(client, phone, password):
    token = form_token(client, "/login")
    return client.post(
        "/login", data={"csrf_token": token, "phone": phone, "password": password}
    ).status_code


def test_page_and_api_logins_share_one_per_phone_counter(api, client, make_user):
    user = make_user()
    page = [page_login(client, user.phone, "wrong-pw") for _ in range(6)]
    api_codes = [api_login(api, user.phone, "wrong-pw") for _ in range(5)]
    assert page == [422] * 6
    assert api_codes == [401] * 4 + [429]
    assert page_login(client, user.phone, "wrong-pw") == 429
    r = client.get("/login")  # the page itself still opens (GET is not limited)
    assert r.status_code == 200


def test_page_and_api_registrations_share_one_per_address_counter(api, client, config):
    config(REGISTER_LIMIT_PER_IP="3 per minute")

    def page():
        token = form_token(client, "/register")
        return client.post("/register", data={"csrf_token": token}).status_code

    def via_api():
        return api.post("/api/v1/auth/register", {"phone": "1"}).status_code

    assert [page(), via_api(), page()] == [422, 422, 422]
    assert via_api() == 429
    r = client.post("/register", data={"csrf_token": form_token(client, "/register")})
    assert r.status_code == 429 and "操作太频繁" in r.get_data(as_text=True)


def test_successful_logins_do_not_spend_the_per_phone_limit(api, client, make_user):
    user = make_user()
    assert [api_login(api, user.phone, "wrong-pw") for _ in range(9)] == [401] * 9
    for _ in range(5):
        assert api_login(api, user.phone, TEST_PASSWORD) == 200
        assert page_login(client, user.phone, TEST_PASSWORD) == 302
    assert api_login(api, user.phone, "wrong-pw") == 401  # the 10th failure
    assert api_login(api, user.phone, "wrong-pw") == 429
    assert api_login(api, user.phone, TEST_PASSWORD) == 429  # now closed for all


def test_an_attackers_failures_do_not_lock_the_owner_out(api, make_user):
    user = make_user()
    codes = [api_login(api, user.phone, "wrong-pw", ip=ATTACKER) for _ in range(11)]
    assert codes == [401] * 10 + [429]
    # Another address of the attacker's /24 shares the attacker's counter ...
    assert api_login(api, user.phone, "wrong-pw", ip="198.51.100.200") == 429
    assert api_login(api, user.phone, TEST_PASSWORD, ip="198.51.100.99") == 429
    # ... while the owner, on another network, logs in.
    assert api_login(api, user.phone, TEST_PASSWORD, ip=OWNER) == 200


def test_the_global_per_phone_cap_holds_across_networks(api, make_user, config):
    config(LOGIN_LIMIT_PER_PHONE_GLOBAL="15 per hour")
    user = make_user()
    codes = [
        api_login(api, user.phone, "wrong-pw", ip=f"198.51.{net}.7")
        for net in (1, 2, 3)
        for _ in range(5)
    ]
    assert codes == [401] * 15
    assert api_login(api, user.phone, "wrong-pw", ip="198.51.4.7") == 429
    assert api_login(api, user.phone, TEST_PASSWORD, ip=OWNER) == 429
    # Other phones are not affected.
    assert api_login(api, make_user().phone, TEST_PASSWORD, ip=OWNER) == 200


@pytest.mark.parametrize(
    "address, network",
    [
        ("198.51.100.7", "198.51.100.0/24"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.0/24"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_client_network(address, network):
    assert client_network(address) == network


def test_plain_form_answers_share_the_per_account_answer_limit(
    api, client, make_user, make_open_contest, config
):
    """The no-JavaScript save/submit pages and the JSON answer API spend one
    per-account counter."""
    from tests.auth.test_views import csrf_from

    config(ANSWER_LIMIT_PER_USER="3 per minute")
    make_open_contest()
    api.login(make_user())
    attempt = api.post("/api/v1/attempts", {}).get_json()
    url = f"/api/v1/attempts/{attempt['id']}/answers/1"
    assert api.put(url, {"choices": ["A"]}).status_code == 200
    token = csrf_from(client.get(f"/quiz/{attempt['id']}").get_data(as_text=True))
    form = {"csrf_token": token, "q1": "B"}
    assert client.post(f"/quiz/{attempt['id']}/save", data=form).status_code == 302
    assert api.put(url, {"choices": ["A"]}).status_code == 200
    refused = client.post(f"/quiz/{attempt['id']}/save", data=form)
    assert refused.status_code == 429
    assert "操作太频繁" in refused.get_data(as_text=True)
    assert client.post(f"/quiz/{attempt['id']}/submit", data=form).status_code == 429
    assert api.put(url, {"choices": ["B"]}).status_code == 429
    # Nothing refused was saved, and the attempt is still open.
    data = api.get(f"/api/v1/attempts/{attempt['id']}").get_json()
    assert data["answers"]["1"] == ["A"] and data["status"] == "open"
    # Another account is not affected.
    client.delete_cookie("session")
    api.login(make_user())
    other = api.post("/api/v1/attempts", {}).get_json()
    token = csrf_from(client.get(f"/quiz/{other['id']}").get_data(as_text=True))
    r = client.post(f"/quiz/{other['id']}/save", data={"csrf_token": token, "q1": "A"})
    assert r.status_code == 302


@pytest.mark.postgres_only
def test_parallel_guesses_cannot_overrun_the_per_phone_limit(app, make_user):
    """20 wrong passwords at once: exactly 10 are checked, the rest are 429
    (a check-then-count limit would let every in-flight guess through)."""
    import threading

    user = make_user()
    clients = [app.test_client() for _ in range(20)]
    tokens = [c.get("/api/v1/csrf").get_json()["csrf_token"] for c in clients]
    barrier = threading.Barrier(len(clients))
    codes = []

    def guess(client, token):
        barrier.wait()
        r = client.post(
            "/api/v1/auth/login",
            json={"phone": user.phone, "password": "wrong-pw"},
            headers={"X-CSRFToken": token},
        )
        codes.append(r.status_code)

    threads = [
        threading.Thread(target=guess, args=pair)
        for pair in zip(clients, tokens, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [401] * 10 + [429] * 10
