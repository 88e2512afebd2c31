"""The `soko` command: serve, migrate, reconcile, demo data, API keys, people, carriers and
shipments, merchant credit (scores, the lender's capital, the loan book) and FX."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from soko import bootstrap
from soko.channels.ussd import menus as ussd_menus
from soko.config import Settings
from soko.credit import service as credit
from soko.credit.domain import bps_percent
from soko.credit.service import CurrencyPortfolio
from soko.db import schema
from soko.demo import DEMO_FX_CORRIDORS, DEMO_PIN, load_demo
from soko.deposits import service as mpesa
from soko.escrow.tracking import service as shipments
from soko.escrow.tracking.domain import TrackingEventKind, parse_occurred_at
from soko.fx import service as fx
from soko.fx.domain import rate_decimal
from soko.fx.errors import FxPeriodInvalid
from soko.kernel import limits
from soko.kernel.errors import DomainError
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.reconcile import reconcile as reconcile_ledger
from soko.people import access
from soko.people import service as people
from soko.people.domain import UserKind
from soko.rails.mpesa.statement import StatementInvalid

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    help="Soko: payments, wallets and escrow for small businesses.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
keys_app = typer.Typer(help="API keys for operators and merchants.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
carriers_app = typer.Typer(help="Carriers that report tracking events.", no_args_is_help=True)
app.add_typer(carriers_app, name="carriers")
users_app = typer.Typer(help="People: consumers, merchants and agents.", no_args_is_help=True)
app.add_typer(users_app, name="users")
shipments_app = typer.Typer(help="Shipments of escrow orders.", no_args_is_help=True)
app.add_typer(shipments_app, name="shipments")
credit_app = typer.Typer(help="Merchant credit: scores and the lender's capital.",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(credit_app, name="credit")
loans_app = typer.Typer(help="The loan book.", no_args_is_help=True)
app.add_typer(loans_app, name="loans")
fx_app = typer.Typer(help="Cross-border FX: rates, quotes, liquidity.", no_args_is_help=True)
app.add_typer(fx_app, name="fx")
fx_rates_app = typer.Typer(help="FX rates: set one, or import a file.", no_args_is_help=True)
fx_app.add_typer(fx_rates_app, name="rates")
mpesa_app = typer.Typer(help="M-Pesa: C2B URLs, payments in suspense, reversals.",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(mpesa_app, name="mpesa")

console = Console()
errors_console = Console(stderr=True)

#: Exit codes: 1 means "checked, and something is wrong"; 2 means "refused" (a rule said no).
EXIT_CHECK_FAILED = 1
EXIT_REFUSED = 2


def refusals_as_exit_codes(command: Callable[P, R]) -> Callable[P, R]:
    """The CLI's one error table: any domain error prints `code: detail` and exits 2."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except DomainError as error:
            # Text, not markup: a detail may echo the caller's input, brackets and all.
            errors_console.print(
                Text.assemble((error.code, "red"), ": ", error.detail), soft_wrap=True
            )
            raise typer.Exit(EXIT_REFUSED) from error

    return wrapper


@app.command()
@refusals_as_exit_codes
def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Interface to listen on.", show_default="SOKO_HOST, else 127.0.0.1"),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="TCP port.", show_default="SOKO_PORT, else 8000", min=1, max=65535),
    ] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Load demo data first.")] = False,
    workers: Annotated[int, typer.Option(min=1, max=64, help="API processes.")] = 1,
) -> None:
    """Start the HTTP API (migrating a fresh database first).

    Without SOKO_PUBLIC_URL, pay links name the host and port served on.
    """
    import uvicorn  # noqa: PLC0415 - only `serve` needs the server

    if demo:
        # The demo's KES<->UGX corridors, unless the operator set corridors of its own: the
        # API processes uvicorn starts read the same environment.
        os.environ.setdefault("SOKO_FX_CORRIDORS", DEMO_FX_CORRIDORS)
    given = {name: value for name, value in (("host", host), ("port", port)) if value is not None}
    settings = Settings(**given)  # type: ignore[arg-type]  # checked by pydantic as from SOKO_*
    runtime = bootstrap.build(settings, upgrade_schema=True)
    try:
        if demo and _print_demo(runtime):
            # A secret is shown once and kept hashed: a key is made when the demo is loaded,
            # and a restart on the same database makes none (each would be one more live key).
            _print_new_key(runtime, role=KeyRole.OPERATOR, name="demo operator")
        elif demo:
            console.print(
                "Its operator key was shown when it was loaded; "
                "make another with: soko keys create --role operator",
                soft_wrap=True,
            )
        console.print(
            f"Soko on [bold]http://{_url_host(settings.host)}:{settings.port}[/bold]  "
            f"(API docs at /docs, pay links at {settings.base_url}, "
            f"database {runtime.engine.url.render_as_string(hide_password=True)})"
        )
    finally:
        runtime.close()
    # uvicorn's factory builds each worker's runtime from the environment: what was given here
    # goes there, so that the server's pay links name the port it listens on.
    os.environ["SOKO_HOST"] = settings.host
    os.environ["SOKO_PORT"] = str(settings.port)
    uvicorn.run(
        "soko.channels.api.app:create_app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level="info",
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    runtime = bootstrap.build()
    try:
        before = schema.current_revision(runtime.engine)
        schema.upgrade(runtime.engine)
        after = schema.current_revision(runtime.engine)
    finally:
        runtime.close()
    if before == after:
        console.print(f"Schema already at revision {after}.")
    else:
        console.print(f"Schema upgraded from {before or 'empty'} to {after}.")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision and whether it is the newest."""
    runtime = bootstrap.build()
    try:
        current = schema.current_revision(runtime.engine)
    finally:
        runtime.close()
    head = schema.head_revision()
    console.print(f"current {current or 'empty'}, newest {head}")
    if current != head:
        raise typer.Exit(EXIT_CHECK_FAILED)


class Rail(StrEnum):
    MPESA = "mpesa"


@app.command()
@refusals_as_exit_codes
def reconcile(
    rail: Annotated[
        Rail | None,
        typer.Option(help="Match this rail's statement (STATEMENT) against the ledger instead."),
    ] = None,
    statement: Annotated[
        Path | None,
        typer.Argument(
            help="With --rail mpesa: the organisation statement CSV.", exists=True, dir_okay=False
        ),
    ] = None,
) -> None:
    """Check every ledger invariant; exit 1 with a report if any fails. With --rail mpesa and a
    statement: list what the M-Pesa statement and the ledger each have that the other lacks."""
    if rail is not None or statement is not None:
        if rail is None or statement is None:
            errors_console.print("give both --rail mpesa and the statement's path")
            raise typer.Exit(EXIT_REFUSED)
        _reconcile_statement(statement)
        return
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        report = reconcile_ledger(runtime.context)
    finally:
        runtime.close()
    table = Table(title=f"Ledger: {report.accounts} accounts, {report.transfers} transfers")
    table.add_column("check")
    table.add_column("promise")
    table.add_column("result")
    for check in report.checks:
        result = "[green]ok[/green]" if check.passed else f"[red]{len(check.problems)} failed[/red]"
        table.add_row(check.name, check.promise, result)
    console.print(table)
    if report.passed:
        console.print("[green]All invariants hold.[/green]")
        return
    for check in report.checks:
        for problem in check.problems:
            errors_console.print(f"[red]{check.name}[/red]: {problem}")
    raise typer.Exit(EXIT_CHECK_FAILED)


def _reconcile_statement(path: Path) -> None:
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        try:
            found = mpesa.match_statement_text(runtime.context, path.read_text(encoding="utf-8"))
        except StatementInvalid as error:
            errors_console.print(f"statement_invalid: {error}", soft_wrap=True)
            raise typer.Exit(EXIT_REFUSED) from error
    finally:
        runtime.close()
    table = Table(title=f"M-Pesa statement {path.name} against the ledger")
    table.add_column("receipt")
    table.add_column("what")
    table.add_column("statement", justify="right")
    table.add_column("ledger", justify="right")
    for row in found.missing_in_ledger:
        table.add_row(row.receipt, "missing in the ledger", _kes(row.amount_minor), "")
    for entry in found.missing_in_statement:
        table.add_row(entry.receipt, "missing in the statement", "", _kes(entry.amount_minor))
    for mismatch in found.mismatched:
        table.add_row(mismatch.receipt, "amounts or directions differ",
                      _kes(mismatch.statement_amount_minor),
                      _kes(mismatch.ledger_amount_minor))  # fmt: skip
    for receipt in found.duplicate_receipts:
        table.add_row(receipt, "appears twice", "", "")
    if not found.agrees:
        console.print(table)
        raise typer.Exit(EXIT_CHECK_FAILED)
    console.print(f"[green]The M-Pesa statement and the ledger agree[/green] "
                  f"({len(found.charges)} charge rows, {len(found.not_completed)} not completed "
                  "rows left out).")  # fmt: skip


def _kes(minor: int) -> str:
    return Money.of(minor, "KES").to_decimal_string()


@app.command()
def books() -> None:
    """The operator's own accounts per currency: settlement, fees earned (all buckets), escrow,
    suspense and the rest, each as its posted debits and credits and what is still pending."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        totals = ledger.system_totals(runtime.context)
    finally:
        runtime.close()
    table = Table(title="The operator's accounts: posted (pending); net is credits - debits")
    table.add_column("currency")
    table.add_column("account", no_wrap=True, min_width=len("commission_expense"))
    for column in ("debits", "credits", "net"):
        table.add_column(column, justify="right")
    for total in totals:
        currency = total.currency
        table.add_row(
            currency,
            total.code.value,
            _posted_and_pending(total.debits_posted, total.debits_pending, currency),
            _posted_and_pending(total.credits_posted, total.credits_pending, currency),
            _posted_and_pending(
                total.balance, total.credits_pending - total.debits_pending, currency
            ),
        )
    console.print(table)


def _posted_and_pending(posted: int, pending: int, currency: str) -> str:
    text = Money.of(posted, currency).to_decimal_string()
    return f"{text} ({Money.of(pending, currency).to_decimal_string()})" if pending else text


@app.command()
@refusals_as_exit_codes
def demo() -> None:
    """Load demo data into the current database (once; a second run changes nothing)."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        _print_demo(runtime)
    finally:
        runtime.close()


@app.command()
@refusals_as_exit_codes
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run each job once and exit.")] = False,
    interval: Annotated[float, typer.Option(min=0.05, max=3600, help="Idle seconds.")] = 1.0,
) -> None:
    """Run the background jobs (hold expiry, housekeeping); several workers may run at once."""
    from soko.channels.worker.loop import Tick, run_forever, run_once  # noqa: PLC0415

    runtime = bootstrap.build(upgrade_schema=True)
    try:
        if once:
            tick = run_once(runtime.context)
            console.print(tick.handled)
            if tick.failed:
                errors_console.print(f"failed: {', '.join(tick.failed)}")
                raise typer.Exit(EXIT_CHECK_FAILED)
            return

        def report(tick: Tick) -> None:
            if tick.busy or tick.failed:
                console.print(tick.handled, f"failed: {tick.failed}" if tick.failed else "")

        run_forever(runtime.context, interval_seconds=interval, on_tick=report)
    finally:
        runtime.close()


class KeyRole(StrEnum):
    OPERATOR = "operator"
    MERCHANT = "merchant"


@keys_app.command("create")
@refusals_as_exit_codes
def keys_create(
    role: Annotated[KeyRole, typer.Option(help="operator: everything; merchant: its own data.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "operator",
    merchant_id: Annotated[
        str | None, typer.Option(help="The merchant's user id, for --role merchant.")
    ] = None,
) -> None:
    """Create an API key and print its secret, the only time it is shown."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        _print_new_key(runtime, role=role, name=name, merchant_id=merchant_id)
    finally:
        runtime.close()


@keys_app.command("revoke")
@refusals_as_exit_codes
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_…).")]) -> None:
    """Revoke an API key: it stops working at once."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        access.revoke_api_key(runtime.context, key_id)
    finally:
        runtime.close()
    console.print(f"Revoked {key_id}.")


@keys_app.command("list")
@refusals_as_exit_codes
def keys_list(
    limit: Annotated[int, typer.Option(min=1, max=limits.PAGE_SIZE_MAX, help="Keys shown.")] = 50,
    after: Annotated[str | None, typer.Option(help="Show keys after this id.")] = None,
) -> None:
    """The API keys, oldest first, revoked ones too (their secrets are never kept)."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        page = people.list_api_keys(runtime.context, limit=limit, after=after)
    finally:
        runtime.close()
    table = Table(title="API keys")
    for column in ("id", "role", "name", "merchant", "created", "revoked"):
        table.add_column(column, overflow="fold", no_wrap=column in ("id", "merchant"))
    for key in page.keys:
        created = "" if key.created_at is None else key.created_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(key.id, key.role, key.name, key.merchant_id or "", created,
                      "yes" if key.revoked else "no")  # fmt: skip
    console.print(table)
    if page.next_cursor is not None:
        console.print(f"More: soko keys list --after {page.next_cursor}")


@users_app.command("list")
@refusals_as_exit_codes
def users_list(
    kind: Annotated[UserKind | None, typer.Option(help="Only people of this kind.")] = None,
    phone: Annotated[str | None, typer.Option(help="Only the one with this number.")] = None,
    default_region: Annotated[
        str | None, typer.Option(help="The country of a local number, such as KE.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=limits.PAGE_SIZE_MAX, help="People shown.")] = 50,
    after: Annotated[str | None, typer.Option(help="Show people after this user id.")] = None,
) -> None:
    """People in the order they registered, or the one with a phone number."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        now = runtime.context.clock.now()
        page = people.list_users(
            runtime.context,
            kind=kind,
            phone=phone,
            default_region=default_region,
            limit=limit,
            after=after,
        )
    finally:
        runtime.close()
    table = Table(title="People")
    for column in ("id", "kind", "phone", "name", "country", "tier", "till", "PIN"):
        table.add_column(column, overflow="fold", no_wrap=column in ("id", "phone"))
    for user, merchant in page.users:
        pin = "locked" if user.pin_locked_at(now) else ("set" if user.has_pin else "none")
        till = merchant.till_number if merchant else ""
        table.add_row(user.id, user.kind.value, user.phone, user.name, user.country,
                      str(user.kyc_tier), till, pin)  # fmt: skip
    console.print(table)
    if page.next_cursor is not None:
        console.print(f"More: soko users list --after {page.next_cursor}")


def _print_new_key(
    runtime: bootstrap.Runtime, *, role: KeyRole, name: str, merchant_id: str | None = None
) -> None:
    new = access.create_api_key(
        runtime.context, role=role.value, name=name, merchant_id=merchant_id
    )
    console.print(f"API key {new.key.id} ({role.value}, {new.key.name}); its secret, shown once:")
    # Plain and alone on its line, so that a script can take it.
    typer.echo(new.secret)


def _print_demo(runtime: bootstrap.Runtime) -> bool:
    """Load the demo data and show it; False if it was loaded already."""
    summary, replayed = load_demo(runtime.context)
    if replayed or summary is None:
        console.print("Demo data was already loaded.")
        return False
    # Light rules, no outer border: on an 80-column terminal the names keep room enough to
    # wrap between words ("Otieno Agency (Kisumu)"), not inside them.
    table = Table(
        title=f"Demo data loaded: {summary.payments} payments (every PIN is {DEMO_PIN})",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in ("name", "kind", "phone", "user id", "till"):
        # Ids are copied into API calls: fold them across lines rather than cut them short.
        table.add_column(column, overflow="fold", no_wrap=column != "name")
    for person in summary.people:
        table.add_row(
            person.name, person.kind, person.phone, person.user_id, person.till_number or ""
        )
    console.print(table)
    pay_url = f"{runtime.settings.base_url}/pay/{summary.payment_request_id}"
    console.print(
        f"An open payment request of Wanjiru's Kiosk, to pay with a phone and PIN: {pay_url}"
    )
    console.print(
        f"A funded escrow order, Amina buying from Wanjiru's Kiosk: {summary.escrow_order_id}"
    )
    borrower, offer = summary.borrower, summary.offer
    console.print(
        f"Achieng's Grocery ({borrower.user_id}) has sold on Soko for six months "
        f"({summary.history_sales} sales); the lender has capital to lend.",
        soft_wrap=True,
    )
    if offer is None:
        console.print("It has no credit offer.")
    else:
        console.print(
            f"Its credit offer {offer.id}: up to {Money.of(offer.limit_minor, offer.currency)}, "
            f"fee {bps_percent(offer.fee_bps)} once, repaid as {bps_percent(offer.withhold_bps)} "
            f"of each sale within {offer.term_days} days; open until "
            f"{offer.expires_at.date().isoformat()}.",
            soft_wrap=True,
        )
    console.print("Wanjiru's Kiosk opened today and has no offer yet:")
    for reason in summary.newcomer_reasons:
        console.print(Text(f"  - {reason.text}"), soft_wrap=True)
    _print_demo_fx(runtime)
    return True


def _print_demo_fx(runtime: bootstrap.Runtime) -> None:
    corridors = runtime.context.fx.corridors
    if ("UGX", "KES") not in corridors:
        console.print(
            "FX demo rates and liquidity are loaded; open the corridors to send across "
            f"currencies: SOKO_FX_CORRIDORS='{DEMO_FX_CORRIDORS}'",
            soft_wrap=True,
        )
        return
    console.print(
        "Cross-border: Okello in Kampala (UGX) can send to Baraka in Nairobi (KES) now. Sign in "
        "as +256782100200, POST /v1/fx/quotes with source_currency UGX, target_currency KES "
        "and a source_amount, then POST /v1/transfers with its quote_id and to_phone "
        "+254722100200 (docs/fx.md).",
        soft_wrap=True,
    )


# --- carriers and shipments ---------------------------------------------------------------------


@carriers_app.command("add")
@refusals_as_exit_codes
def carriers_add(
    code: Annotated[str, typer.Argument(help="A lowercase slug, such as sendy.")],
    name: Annotated[str, typer.Option(help="The carrier's name.")],
) -> None:
    """Register a carrier and print its signing secret, the only time it is shown."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        new = shipments.add_carrier(runtime.context, code=code, name=name)
    finally:
        runtime.close()
    console.print(
        f"Carrier {new.carrier.code} ({new.carrier.name}) reports to POST "
        f"/v1/carriers/{new.carrier.code}/events, signed with this secret, shown once:",
        soft_wrap=True,
    )
    # Plain and alone on its line, so that a script can take it.
    typer.echo(new.secret)


@carriers_app.command("list")
@refusals_as_exit_codes
def carriers_list() -> None:
    """The carriers, by code (the first page of them)."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        page = shipments.list_carriers(runtime.context, limit=limits.PAGE_SIZE_MAX)
    finally:
        runtime.close()
    table = Table(title="Carriers")
    for column in ("code", "name", "enabled"):
        table.add_column(column)
    for carrier in page.carriers:
        table.add_row(carrier.code, carrier.name, "yes" if carrier.enabled else "no")
    console.print(table)


@carriers_app.command("disable")
@refusals_as_exit_codes
def carriers_disable(code: Annotated[str, typer.Argument(help="The carrier's code.")]) -> None:
    """Refuse the carrier's events and new shipments from now on."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        shipments.disable_carrier(runtime.context, code)
    finally:
        runtime.close()
    console.print(f"Disabled {code}.")


@shipments_app.command("event")
@refusals_as_exit_codes
def shipments_event(
    shipment_id: Annotated[str, typer.Argument(help="The shipment's id (shp_…).")],
    kind: Annotated[str, typer.Argument(help=", ".join(TrackingEventKind) + ".")],
    event_id: Annotated[
        str | None,
        typer.Option(help="Your id of the event; the same id again records nothing new."),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(help="When it happened, ISO 8601 with its offset; now if left out."),
    ] = None,
) -> None:
    """Record a tracking event for a shipment, as the carrier would report it."""
    runtime = bootstrap.build(upgrade_schema=True)
    ctx = runtime.context
    try:
        recorded = shipments.record_event(
            ctx,
            shipment_id=shipment_id,
            kind=kind,
            occurred_at=ctx.clock.now() if at is None else parse_occurred_at(at),
            event_id=event_id or ctx.ids.new("ops"),
        )
    finally:
        runtime.close()
    event, shipment = recorded.event, recorded.shipment
    said = "Already recorded" if recorded.repeat else "Recorded"
    moved = f"; order {shipment.order_id}: {event.order_action}" if event.order_action else ""
    console.print(
        f"{said} {event.kind} as event {event.carrier_event_id}; shipment {shipment.id} is "
        f"{shipment.step}{moved}.",
        soft_wrap=True,
    )


# --- merchant credit ----------------------------------------------------------------------------


@credit_app.command("score")
@refusals_as_exit_codes
def credit_score(
    merchant_id: Annotated[str, typer.Argument(help="The merchant's user id (usr_…).")],
) -> None:
    """Score a merchant now, as an offer would be decided, and store nothing: its features,
    points, score and grade, the offer it would get, the reasons and the improvements."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        decision = credit.score(runtime.context, merchant_id)
    finally:
        runtime.close()
    features = Table(title=f"Features of {merchant_id} on {decision.as_of.isoformat()} (UTC)")
    features.add_column("feature", no_wrap=True)
    features.add_column("value", overflow="fold")
    for name, value in decision.features.as_record().items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        features.add_row(name, shown)
    console.print(features)
    points = Table(title=f"Scorecard {decision.scorecard_version}")
    points.add_column("characteristic", no_wrap=True)
    points.add_column("points", justify="right")
    for name, earned in decision.points:
        points.add_row(name, str(earned))
    points.add_row("[bold]score[/bold]", f"[bold]{decision.score}[/bold]")
    console.print(points)
    console.print(f"Score {decision.score}, grade {decision.grade}.")
    offer = decision.offer
    if offer is None:
        console.print("No offer.")
    else:
        console.print(
            f"Offer: up to {Money.of(offer.limit_minor, offer.currency)}, fee "
            f"{bps_percent(offer.fee_bps)}, {bps_percent(offer.withhold_bps)} of each sale, "
            f"{offer.term_days} days; valid until {offer.expires_on.isoformat()}.",
            soft_wrap=True,
        )
    for heading, reasons in (("Reasons", decision.reasons), ("To improve", decision.improvements)):
        if reasons:
            console.print(f"{heading}:")
            for reason in reasons:
                # Text, not markup: reasons are plain words.
                console.print(Text(f"  - {reason.text} ({reason.code})"), soft_wrap=True)


@credit_app.command("fund")
@refusals_as_exit_codes
def credit_fund(
    currency: Annotated[str, typer.Argument(help="ISO 4217 code, such as KES.")],
    amount: Annotated[str, typer.Argument(help="Major units, such as 500000.00.")],
) -> None:
    """Put lender capital in: money received at the bank (settlement) becomes capital that loans
    are made from. Loans outstanding never exceed it."""
    money = Money.parse(amount, currency.upper())
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        credit.fund_capital(runtime.context, money)
    finally:
        runtime.close()
    console.print(f"Lender capital funded with {money}.")


@loans_app.command("report")
@refusals_as_exit_codes
def loans_report() -> None:
    """The loan book per currency: lent, outstanding, repaid, fees earned, portfolio at risk
    (PAR 1/30/90: principal of loans that many days past due), written off, and the default
    rate (loans written off) by grade and by scorecard version."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        books = credit.portfolio(runtime.context)
    finally:
        runtime.close()
    if not books:
        console.print("No loans yet.")
        return
    table = Table(title="Loan book")
    columns = ("currency", "loans", "active", "disbursed", "outstanding", "repaid",
               "fees earned", "PAR1", "PAR30", "PAR90", "written off")  # fmt: skip
    for column in columns:
        # An amount is never cut to "500…" on a narrow terminal: it wraps whole instead.
        table.add_column(column, justify="left" if column == "currency" else "right",
                         no_wrap=True, min_width=len(column))  # fmt: skip
    for book in books:
        table.add_row(*_book_row(book))
    console.print(table)
    rates = Table(title="Default rate: loans written off")
    counts = ("loans", "written off", "default rate")
    for column in ("currency", "by", "segment", *counts):
        rates.add_column(column, justify="right" if column in counts else "left")
    for book in books:
        for by, segments in (("grade", book.by_grade), ("scorecard", book.by_scorecard)):
            for segment in segments:
                rates.add_row(book.currency, by, segment.key, str(segment.loans),
                              str(segment.written_off),
                              f"{segment.default_rate_bps / 100:.2f}%")  # fmt: skip
    console.print(rates)


def _book_row(book: CurrencyPortfolio) -> tuple[str, ...]:
    def text(minor: int) -> str:
        return Money.of(minor, book.currency).to_decimal_string()

    return (
        book.currency,
        str(book.loans),
        str(book.active),
        text(book.disbursed_minor),
        text(book.outstanding_principal_minor),
        text(book.repaid_principal_minor),
        text(book.fees_earned_minor),
        *(text(at_risk) for at_risk in book.at_risk_minor),
        text(book.written_off_minor),
    )


# --- FX ------------------------------------------------------------------------------------------


@fx_rates_app.command("import")
@refusals_as_exit_codes
def fx_rates_import(
    file: Annotated[Path, typer.Argument(help="ECB XML or CSV, or the operator CSV.")],
    source: Annotated[
        str, typer.Option(help="The source of an operator CSV without a source column.")
    ] = "operator",
) -> None:
    """Import a rate file, all of it or none; importing it again adds nothing."""
    data = file.read_bytes()
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        made = fx.import_rates(runtime.context, data, source=source)
    finally:
        runtime.close()
    stored = made.stored
    console.print(
        f"Imported {made.format.value}: {stored.added} added, {stored.corrected} corrected, "
        f"{stored.unchanged} unchanged"
        + (f"; left out {', '.join(made.ignored)}" if made.ignored else "")
        + ".",
        soft_wrap=True,
    )


@fx_rates_app.command("fetch")
@refusals_as_exit_codes
def fx_rates_fetch(
    url: Annotated[
        str | None,
        typer.Option(help="Fetch from here instead of SOKO_FX_RATES_URL (http or https)."),
    ] = None,
) -> None:
    """Fetch the rate file at SOKO_FX_RATES_URL (the ECB's daily reference rates) and import it,
    all of it or none: a source that cannot be read, a malformed file or a stale one changes
    nothing."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        made = fx.fetch_rates(runtime.context, url=url)
    finally:
        runtime.close()
    stored = made.stored
    console.print(
        f"Fetched {made.format.value}: {stored.added} added, {stored.corrected} corrected, "
        f"{stored.unchanged} unchanged"
        + (f"; left out {', '.join(made.ignored)}" if made.ignored else "")
        + ".",
        soft_wrap=True,
    )


@fx_rates_app.command("set")
@refusals_as_exit_codes
def fx_rates_set(
    base: Annotated[str, typer.Argument(help="The base currency, such as USD.")],
    quote: Annotated[str, typer.Argument(help="The quote currency, such as KES.")],
    rate: Annotated[str, typer.Argument(help="Units of QUOTE per one BASE, such as 129.25.")],
    source: Annotated[str, typer.Option(help="Where the rate comes from.")] = "operator",
) -> None:
    """Set one rate, true from now."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        made = fx.set_rate(
            runtime.context, base=base.upper(), quote=quote.upper(), rate=rate, source=source
        )
    finally:
        runtime.close()
    console.print(
        f"{made.base}->{made.quote} {rate_decimal(made.value)} ({made.source}, "
        f"{made.as_of.isoformat()})."
    )


@fx_rates_app.command("list")
@refusals_as_exit_codes
def fx_rates_list() -> None:
    """The newest rate of each pair and source."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        rates = fx.list_rates(runtime.context)
        stale = [fx.is_stale(runtime.context, rate) for rate in rates]
    finally:
        runtime.close()
    table = Table(title="FX rates (units of quote per one base)")
    for column in ("base", "quote", "rate", "source", "as of", "stale"):
        table.add_column(column, justify="right" if column == "rate" else "left")
    for rate, old in zip(rates, stale, strict=True):
        table.add_row(rate.base, rate.quote, rate_decimal(rate.value), rate.source,
                      rate.as_of.isoformat(), "yes" if old else "")  # fmt: skip
    console.print(table)


@fx_app.command("quote")
@refusals_as_exit_codes
def fx_quote(
    source: Annotated[str, typer.Option("--from", help="The currency paid, such as UGX.")],
    target: Annotated[str, typer.Option("--to", help="The currency received, such as KES.")],
    amount: Annotated[
        str, typer.Option(help="What the payer is debited, in --from (fee and spread included).")
    ],
) -> None:
    """Price a conversion now, as a quote would (nothing is kept or offered)."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        price = fx.price(
            runtime.context,
            source=source.upper(),
            target=target.upper(),
            source_amount=Money.parse(amount, source.upper()),
        )
    finally:
        runtime.close()
    amounts = price.amounts
    table = Table(title=f"{amounts.source_debit.currency}->{amounts.target.currency} quote")
    table.add_column("")
    table.add_column("amount", justify="right")
    rows = (
        ("payer is debited", str(amounts.source_debit)),
        ("fee", str(amounts.fee)),
        (f"spread ({amounts.spread_bps} bp)", str(amounts.spread)),
        ("converted", str(amounts.converted)),
        ("payee receives", str(amounts.target)),
        ("mid rate", rate_decimal(amounts.mid)),
        ("customer rate", rate_decimal(amounts.customer_rate)),
        ("rate source", f"{price.rate.source}, {price.rate.as_of.isoformat()}"),
    )
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)


@fx_app.command("fund")
@refusals_as_exit_codes
def fx_fund(
    currency: Annotated[str, typer.Argument(help="The liquidity's currency, such as KES.")],
    amount: Annotated[str, typer.Argument(help="Major units, such as 100000.00.")],
) -> None:
    """Fund the FX liquidity account of CURRENCY from settlement (money at the bank)."""
    runtime = bootstrap.build(upgrade_schema=True)
    ctx = runtime.context
    try:
        funded = fx.fund_liquidity(
            ctx, amount=Money.parse(amount, currency.upper()), idempotency_key=ctx.ids.new("cli")
        )
    finally:
        runtime.close()
    console.print(
        f"Funded fx_liquidity with {funded.amount} ({funded.transfer_id}); it holds "
        f"{funded.balance}.",
        soft_wrap=True,
    )


def _moment(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as error:
        raise FxPeriodInvalid(f"--{name} {text!r} is not an ISO 8601 time.") from error


@fx_app.command("positions")
@refusals_as_exit_codes
def fx_positions(
    since: Annotated[
        str | None, typer.Option(help="Start, ISO 8601 with offset; 30 days before --until.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="End (excluded), ISO 8601; now.")] = None,
) -> None:
    """The operator's FX position per currency: liquidity now, and volume, spread and fees."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        report = fx.positions(
            runtime.context, since=_moment(since, "since"), until=_moment(until, "until")
        )
    finally:
        runtime.close()
    table = Table(title=f"FX positions, {report.since.isoformat()} to {report.until.isoformat()}")
    table.add_column("currency")
    for column in ("liquidity", "out", "converted", "spread", "fee", "in", "paid out"):
        table.add_column(column, justify="right")
    for position in report.positions:
        volume, currency = position.volume, position.currency

        def shown(minor: int, currency: str = currency) -> str:
            return Money.of(minor, currency).to_decimal_string()

        table.add_row(
            currency,
            position.liquidity.to_decimal_string(),
            str(volume.conversions_out),
            shown(volume.converted),
            shown(volume.spread),
            shown(volume.fee),
            str(volume.conversions_in),
            shown(volume.paid_out),
        )
    console.print(table)


@app.command()
def ussd(
    phone: Annotated[str, typer.Option(help="The caller's number, such as +254712100200.")],
) -> None:
    """Try the USSD menus in a terminal, as a feature phone shows them (Ctrl-D hangs up)."""
    runtime = bootstrap.build(upgrade_schema=True)
    session = runtime.context.ids.new("cli")
    inputs: list[str] = []
    try:
        while True:
            screen = ussd_menus.respond(runtime.context, phone, inputs, session)
            typer.echo(f"\n{screen.text}")
            if screen.kind == "END":
                return
            entry = typer.prompt(">", default="", show_default=False, hide_input=screen.secret)
            inputs.extend(entry.split("*"))
    finally:
        runtime.close()


# --- M-Pesa ---------------------------------------------------------------------------------------


@mpesa_app.command("register-urls")
@refusals_as_exit_codes
def mpesa_register_urls() -> None:
    """Register this server's C2B validation and confirmation URLs with Daraja."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        registration = mpesa.register_c2b_urls(runtime.context)
    finally:
        runtime.close()
    console.print(f"C2B URLs registered (Daraja's reference {registration or 'none'}).")


@mpesa_app.command("assign")
@refusals_as_exit_codes
def mpesa_assign(
    trans_id: Annotated[str, typer.Argument(help="The M-Pesa TransID held in suspense.")],
    user_id: Annotated[str, typer.Argument(help="Whose wallet it goes to (usr_...).")],
) -> None:
    """Give a C2B payment held in suspense to its owner's wallet."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        payment = mpesa.assign_c2b(runtime.context, trans_id, user_id)
    finally:
        runtime.close()
    console.print(f"{payment.trans_id}: KES {_kes(payment.amount)} to {payment.user_id}.")


@mpesa_app.command("reverse")
@refusals_as_exit_codes
def mpesa_reverse(
    trans_id: Annotated[str, typer.Argument(help="The M-Pesa receipt to send back.")],
) -> None:
    """Ask M-Pesa to send a deposit or C2B payment back to its payer; the ledger follows only
    when M-Pesa confirms (its Result comes to the callback URL)."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        reversal = mpesa.request_reversal(runtime.context, trans_id)
    finally:
        runtime.close()
    console.print(f"{reversal.id}: reversal of {reversal.receipt} is {reversal.state.value}.")


@mpesa_app.command("credit-receipt")
@refusals_as_exit_codes
def mpesa_credit_receipt(
    statement: Annotated[
        Path,
        typer.Argument(help="The organisation statement CSV.", exists=True, dir_okay=False),
    ],
    receipt: Annotated[str, typer.Argument(help="The M-Pesa receipt the statement shows.")],
    by: Annotated[str, typer.Option("--by", help="Who credits it (kept in the audit record).")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit record).")] = "",
) -> None:
    """Credit a payment in that only the statement shows (its callback was lost): a deposit,
    found by its account reference, or a C2B payment to the wallet its account number names.
    Once per receipt, ever: a receipt credited already (by any path) moves nothing."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        try:
            outcome = mpesa.credit_statement_receipt(
                runtime.context, statement.read_text(encoding="utf-8"), receipt,
                credited_by=by, reason=reason,
            )  # fmt: skip
        except StatementInvalid as error:
            errors_console.print(f"statement_invalid: {error}", soft_wrap=True)
            raise typer.Exit(EXIT_REFUSED) from error
    finally:
        runtime.close()
    credit = outcome.credit
    if credit is None:
        console.print(f"{receipt}: credited already; nothing moved.")
        return
    console.print(
        f"{receipt}: {outcome.what}, KES {_kes(credit.amount)} ({credit.kind} "
        f"{credit.source_id}), recorded as credited by {credit.credited_by}."
    )


@mpesa_app.command("check-reversal")
@refusals_as_exit_codes
def mpesa_check_reversal(
    reversal_id: Annotated[str, typer.Argument(help="The reversal (rev_...).")],
) -> None:
    """Ask M-Pesa's Transaction Status API now about a reversal with no answer (the worker
    does so by itself after SOKO_MPESA_STATUS_AFTER_SECONDS); the answer settles it."""
    runtime = bootstrap.build(upgrade_schema=True)
    try:
        reversal = mpesa.ask_reversal_status(runtime.context, reversal_id)
    finally:
        runtime.close()
    console.print(f"{reversal.id}: reversal of {reversal.receipt} is {reversal.state.value}.")


@app.command("mpesa-sandbox")
def mpesa_sandbox(
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8099,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
) -> None:
    """Run a local Daraja sandbox (tests and demos only: anyone who reaches it can script it)."""
    from soko.rails.mpesa.sandbox import DarajaSandbox  # noqa: PLC0415 - only this command

    sandbox = DarajaSandbox()
    credentials = sandbox.credentials()
    certificate = Path("mpesa-sandbox-cert.pem")
    certificate.write_text(sandbox.certificate_pem, encoding="ascii")
    base = f"http://{host}:{port}"
    console.print(f"Daraja sandbox on [bold]{base}[/bold]. Point Soko at it with:")
    for name, value in (
        ("SOKO_MPESA_BASE_URL", base),
        ("SOKO_MPESA_CONSUMER_KEY", credentials.consumer_key),
        ("SOKO_MPESA_CONSUMER_SECRET", credentials.consumer_secret),
        ("SOKO_MPESA_SHORTCODE", credentials.shortcode),
        ("SOKO_MPESA_PASSKEY", credentials.passkey),
        ("SOKO_MPESA_INITIATOR_NAME", credentials.initiator_name),
        ("SOKO_MPESA_INITIATOR_PASSWORD", credentials.initiator_password),
        ("SOKO_MPESA_CERTIFICATE_PATH", str(certificate.resolve())),
        ("SOKO_MPESA_CALLBACK_NETWORKS", "127.0.0.1/32"),
    ):
        console.print(f"export {name}={value}", highlight=False, soft_wrap=True)
    sandbox.run(host=host, port=port)


if __name__ == "__main__":  # pragma: no cover
    app()
