"""Each merchant's own city in its QR code (the operator's city printed "Nairobi" for a shop in
Kampala), set at registration, and filled for existing merchants by migration 0016."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from fakes import FakeClock
from merchants import phone
from soko.bootstrap import Runtime
from soko.config import Settings
from soko.db import schema
from soko.db.engine import create_engine
from soko.kernel.errors import DomainError
from soko.payments.qr import service as qr
from soko.payments.qr.domain import parse_qr
from soko.people import service as users
from soko.people.domain import UserKind
from soko.people.service import MerchantDetails


def _register(runtime: Runtime, city: str | None, number: str | None = None) -> str:
    user = users.register(
        runtime.context, kind=UserKind.MERCHANT, phone=number or phone(), name="Nakato",
        merchant=MerchantDetails(trading_name="Nakato Fabrics", category_code="5651", city=city),
    )  # fmt: skip
    return user.id


def _printed_city(runtime: Runtime, merchant_id: str) -> str:
    payload = qr.merchant_code(runtime.context, merchant_id).payload()
    return dict(parse_qr(payload).tree())["60"]


def test_a_shop_prints_its_own_city(any_runtime: Runtime) -> None:
    kampala = _register(any_runtime, "Kampala", "+256772123456")
    assert users.get_merchant(any_runtime.context, kampala).city == "Kampala"
    assert _printed_city(any_runtime, kampala) == "Kampala"


def test_the_city_defaults_to_the_operators(any_runtime: Runtime) -> None:
    shop = _register(any_runtime, None)
    assert users.get_merchant(any_runtime.context, shop).city == "Nairobi"
    assert _printed_city(any_runtime, shop) == "Nairobi"


def test_a_long_city_prints_whole_words(any_runtime: Runtime) -> None:
    shop = _register(any_runtime, "Dar es Salaam Kariakoo")
    assert users.get_merchant(any_runtime.context, shop).city == "Dar es Salaam Kariakoo"
    assert _printed_city(any_runtime, shop) == "Dar es Salaam"


def test_a_city_in_another_script_prints_the_operators(any_runtime: Runtime) -> None:
    shop = _register(any_runtime, "አዲስ አበባ")
    assert _printed_city(any_runtime, shop) == "Nairobi"


def test_a_bad_city_is_refused_and_registers_nobody(any_runtime: Runtime) -> None:
    for city in ("", "   ", "x" * 81, "Kampala\a", "\U00105f66"):
        number = phone()
        with pytest.raises(DomainError) as refused:
            _register(any_runtime, city, number)
        assert refused.value.code == "city_invalid"
        with pytest.raises(DomainError):
            users.find_by_phone(any_runtime.context, number)


def test_migration_0016_gives_existing_merchants_the_operators_city(
    tmp_path: object, clock: FakeClock
) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(schema._SCRIPTS))
    before = ScriptDirectory.from_config(config).get_revision("0016").down_revision
    assert isinstance(before, str)
    schema.upgrade(engine, before)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO users (id, kind, phone, name, country, kyc_tier, created_at) "
            "VALUES ('usr_old', 'merchant', '+254700000001', 'Old', 'KE', 0, '2026-01-01')"
        ))  # fmt: skip
        connection.execute(sa.text(
            "INSERT INTO merchants (user_id, trading_name, category_code, settlement_currency,"
            " till_number) VALUES ('usr_old', 'Old Shop', '5411', 'KES', '111111')"
        ))  # fmt: skip
    schema.upgrade(engine)
    with engine.connect() as connection:
        city = connection.execute(sa.text("SELECT city FROM merchants")).scalar_one()
    engine.dispose()
    assert city == Settings().qr_merchant_city == "Nairobi"
