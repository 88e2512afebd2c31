"""The `soko` command: serve, migrate, reconcile, demo data, API keys, people, carriers and
shipments."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from soko import bootstrap
from soko.channels.ussd import menus as ussd_menus
from soko.config import Settings
from soko.db import schema
from soko.demo import DEMO_PIN, load_demo
from soko.escrow.tracking import service as shipments
from soko.escrow.tracking.domain import TrackingEventKind, parse_occurred_at
from soko.kernel import limits
from soko.kernel.errors import DomainError
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.reconcile import reconcile as reconcile_ledger
from soko.people import access
from soko.people import service as people
from soko.people.domain import UserKind

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


@app.command()
@refusals_as_exit_codes
def reconcile() -> None:
    """Check every ledger invariant; exit 1 with a report if any fails."""
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
        pin = "locked" if user.pin_locked else ("set" if user.has_pin else "none")
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
    table = Table(title=f"Demo data loaded: {summary.payments} payments (every PIN is {DEMO_PIN})")
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
    return True


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


if __name__ == "__main__":  # pragma: no cover
    app()
