"""Browser tokens: POST /v1/tokens mints short-lived tokens that open /ws, for API_TOKEN holders."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from realtime_stt.browser_tokens import MAX_EXPIRES_S, BrowserTokens
from tests.conftest import LiveServer

ClientFactory = Callable[..., TestClient]
API = {"authorization": "Bearer api-secret"}


def mint(client: TestClient, **body: object) -> dict[str, object]:
    response = client.post("/v1/tokens", headers=API, json=body or None)
    assert response.status_code == 200, response.text
    minted: dict[str, object] = response.json()
    return minted


def opens_ws(client: TestClient, token: str) -> bool:
    """Whether /ws?token=<token> gets ready (True) or is refused at the handshake (False)."""
    try:
        with client.websocket_connect(f"/ws?token={token}") as ws:
            return bool(ws.receive_json()["type"] == "ready")
    except WebSocketDisconnect as refused:
        if refused.code != 1008:  # a refusal at the handshake closes with 1008; others are bugs
            raise
        return False


class TestMinting:
    def test_api_token_holder_gets_a_token_that_opens_ws(
        self, client_factory: ClientFactory
    ) -> None:
        """A minted token opens /ws, as API_TOKEN does, for its default 60 s."""
        client = client_factory(api_token="api-secret")
        minted = mint(client)
        assert minted["expires_in_seconds"] == 60
        assert isinstance(minted["token"], str)
        assert opens_ws(client, minted["token"])
        assert opens_ws(client, "api-secret")
        assert not opens_ws(client, "wrong")

    def test_the_life_asked_for_is_capped(self, client_factory: ClientFactory) -> None:
        """expires_in_seconds beyond the cap is cut to it."""
        client = client_factory(api_token="api-secret")
        assert mint(client, expires_in_seconds=86_400)["expires_in_seconds"] == MAX_EXPIRES_S
        assert mint(client, expires_in_seconds=5)["expires_in_seconds"] == 5

    def test_minting_needs_the_api_token_not_a_browser_token(
        self, client_factory: ClientFactory
    ) -> None:
        """No token, a wrong one, ?token= in the URL or a browser token: 401."""
        client = client_factory(api_token="api-secret")
        browser = str(mint(client)["token"])
        assert client.post("/v1/tokens").status_code == 401
        assert client.post("/v1/tokens?token=api-secret").status_code == 401
        for offered in ("nope", browser):
            headers = {"authorization": f"Bearer {offered}"}
            response = client.post("/v1/tokens", headers=headers)
            assert response.status_code == 401
            assert response.json()["detail"]["code"] == "api_token_required"

    def test_without_api_token_there_is_nothing_to_mint(
        self, client_factory: ClientFactory
    ) -> None:
        """With no API_TOKEN, /ws is open and minting answers 409."""
        client = client_factory()
        response = client.post("/v1/tokens", headers=API)
        assert response.status_code == 409
        assert response.json()["detail"]["code"] == "api_token_not_set"

    def test_a_single_use_token_opens_one_session(self, client_factory: ClientFactory) -> None:
        """single_use: the first handshake consumes it; the second is refused."""
        client = client_factory(api_token="api-secret")
        token = str(mint(client, single_use=True)["token"])
        assert opens_ws(client, token)
        assert not opens_ws(client, token)

    def test_a_bearer_browser_token_opens_ws_on_a_real_socket(
        self, live_server_factory: Callable[..., LiveServer]
    ) -> None:
        """Over TCP, a token minted with httpx opens /ws as Authorization: Bearer."""
        server = live_server_factory(api_token="api-secret")
        response = httpx.post(server.http_url + "/v1/tokens", headers=API, json={})
        headers = {"Authorization": f"Bearer {response.json()['token']}"}
        with connect(server.ws_url, additional_headers=headers) as ws:
            assert json.loads(ws.recv())["type"] == "ready"
        with pytest.raises(InvalidStatus) as refused:
            connect(server.ws_url, additional_headers={"Authorization": "Bearer stt1.x.y"})
        assert refused.value.response.status_code == 403


class TestSigning:
    def test_a_token_expires(self) -> None:
        """Valid until its expiry second, refused from then on."""
        now = [1_000_000.0]
        tokens = BrowserTokens(SecretStr("k"), clock=lambda: now[0])
        token = tokens.mint(30).token
        now[0] += 29
        assert tokens.verify(token)
        now[0] += 1
        assert not tokens.verify(token)

    def test_tampering_or_another_key_breaks_the_signature(self) -> None:
        """A changed payload, or a token signed for another API_TOKEN, is refused."""
        ours, theirs = BrowserTokens(SecretStr("k1")), BrowserTokens(SecretStr("k2"))
        token = ours.mint(60).token
        prefix, payload, signature = token.split(".")
        forged = ".".join(
            (prefix, payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1], signature)
        )
        assert ours.verify(token)
        assert not ours.verify(forged)
        assert not theirs.verify(token)
        assert not ours.verify("stt1..")

    @pytest.mark.parametrize("garbage", ["", "stt1", "x.y.z", "stt1.%%%.sig"])
    def test_garbage_is_refused(self, garbage: str) -> None:
        """Anything that is not one of our tokens is refused without an exception."""
        assert not BrowserTokens(SecretStr("k")).verify(garbage)
