"""`soko serve`: the address it listens on is the one its pay links name; demo restarts.

uvicorn is replaced by a stand-in that builds the app as uvicorn's factory would (from the
environment, in the worker process) and records how it was asked to listen.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from soko.channels.api.app import create_app_from_environment
from soko.channels.cli.main import app

runner = CliRunner()


class FakeUvicorn:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.base_urls: list[str] = []

    def run(self, target: str, **options: Any) -> None:
        assert target == "soko.channels.api.app:create_app_from_environment"
        self.calls.append(options)
        built = create_app_from_environment()
        with TestClient(built):
            self.base_urls.append(built.state.runtime.settings.base_url)
        built.state.runtime.close()


@pytest.fixture
def uvicorn(monkeypatch: pytest.MonkeyPatch) -> FakeUvicorn:
    import uvicorn as real

    fake = FakeUvicorn()
    monkeypatch.setattr(real, "run", fake.run)
    # `serve` hands --host and --port to uvicorn's worker processes through the environment:
    # these make the test put it back as it was.
    monkeypatch.setenv("SOKO_HOST", "127.0.0.1")
    monkeypatch.setenv("SOKO_PORT", "8000")
    monkeypatch.delenv("SOKO_PUBLIC_URL", raising=False)
    return fake


@pytest.fixture
def env(sqlite_url: str, tmp_path: object) -> dict[str, str]:
    return {"SOKO_DATABASE_URL": sqlite_url, "SOKO_SMS_LOG_PATH": f"{tmp_path}/sms.log",
            "SOKO_PIN_HASH_TIME_COST": "1", "SOKO_PIN_HASH_MEMORY_KIB": "8"}  # fmt: skip


def test_pay_links_name_the_host_and_port_served_on(
    uvicorn: FakeUvicorn, env: dict[str, str]
) -> None:
    result = runner.invoke(app, ["serve", "--demo", "--port", "8123", "--host", "127.0.0.2"],
                           env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert uvicorn.calls[0]["port"] == 8123 and uvicorn.calls[0]["host"] == "127.0.0.2"
    links = re.findall(r"http://\S+/pay/\S+", result.output)
    assert links and all(link.startswith("http://127.0.0.2:8123/pay/") for link in links)
    # ... and the server's own pay links, made in the worker process uvicorn starts.
    assert uvicorn.base_urls == ["http://127.0.0.2:8123"]


def test_a_public_url_still_wins(uvicorn: FakeUvicorn, env: dict[str, str]) -> None:
    env = env | {"SOKO_PUBLIC_URL": "https://pay.example.com"}
    result = runner.invoke(app, ["serve", "--port", "8123"], env=env)
    assert result.exit_code == 0, result.output
    assert uvicorn.base_urls == ["https://pay.example.com"]


def test_serving_the_demo_again_mints_no_new_operator_key(
    uvicorn: FakeUvicorn, env: dict[str, str]
) -> None:
    first = runner.invoke(app, ["serve", "--demo"], env=env)
    assert first.exit_code == 0, first.output
    assert first.output.count("API key key_") == 1
    again = runner.invoke(app, ["serve", "--demo"], env=env)
    assert again.exit_code == 0, again.output
    assert "API key key_" not in again.output
    assert "soko keys create --role operator" in again.output
    listed = runner.invoke(app, ["keys", "list"], env=env | {"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert listed.output.count("demo operator") == 1


def test_serve_help_shows_its_defaults() -> None:
    shown = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    assert "127.0.0.1" in shown.output
    assert "8000" in shown.output


def test_users_list_finds_people_in_the_terminal(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["demo"], env=env).exit_code == 0
    wide = env | {"COLUMNS": "200"}
    listed = runner.invoke(app, ["users", "list", "--kind", "merchant"], env=wide)
    assert listed.exit_code == 0, listed.output
    assert "Wanjiru Njeri" in listed.output and "Nakato Sarah" in listed.output
    assert "Amina" not in listed.output
    one = runner.invoke(app, ["users", "list", "--phone", "0712100200", "--default-region", "KE"],
                        env=wide)  # fmt: skip
    assert one.exit_code == 0, one.output
    assert "Amina Wanjiku" in one.output and "Baraka" not in one.output
    paged = runner.invoke(app, ["users", "list", "--limit", "2"], env=wide)
    assert "soko users list --after usr_" in paged.output
