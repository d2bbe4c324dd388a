"""Connection settings that bound every wait, and what the URL may say instead."""

from __future__ import annotations

from colonies_ha.store.db import BOUNDS, connection_kwargs

MULTI_HOST = "postgresql://u@db-a:5432,db-b:5432/colonies?target_session_attrs=read-write"


def test_every_connection_gets_a_connect_timeout_and_keepalives() -> None:
    settings = connection_kwargs(MULTI_HOST)
    assert settings["connect_timeout"] == BOUNDS.connect
    assert settings["keepalives"] == 1 and settings["tcp_user_timeout"] > 0


def test_what_the_url_names_is_left_to_the_url() -> None:
    settings = connection_kwargs(MULTI_HOST + "&connect_timeout=10&keepalives_idle=30")
    assert "connect_timeout" not in settings and "keepalives_idle" not in settings
    assert settings["keepalives_count"] == 3
