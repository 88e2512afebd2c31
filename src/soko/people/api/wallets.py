"""Wallets: list and open a user's wallets, balances, statements (JSON pages and CSV)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response

from soko.channels.api.deps import ContextDep, VisibleUserId, VisibleWallet
from soko.channels.api.schemas import Page, problem_responses
from soko.kernel import limits
from soko.people import wallets
from soko.people.schemas import StatementEntryPublic, WalletOpen, WalletPublic

router = APIRouter(prefix="/v1", tags=["wallets"])

_READ = problem_responses(401, 404, 422, 503)


@router.get(
    "/users/{user_id}/wallets",
    operation_id="listWallets",
    response_model=Page[WalletPublic],
    responses=_READ,
)
def list_wallets(user_id: VisibleUserId, ctx: ContextDep) -> Page[WalletPublic]:
    """The user's wallets with balances.

    One page always: a user holds at most one wallet per currency the operator offers.
    """
    found = wallets.list_wallets(ctx, user_id)
    return Page(items=[WalletPublic.of(wallet) for wallet in found], next_cursor=None)


@router.post(
    "/users/{user_id}/wallets",
    operation_id="openWallet",
    response_model=WalletPublic,
    responses=problem_responses(400, 401, 404, 409, 413, 422, 503),
)
def open_wallet(
    user_id: VisibleUserId,
    ctx: ContextDep,
    body: Annotated[WalletOpen | None, Body(examples=[{"currency": "UGX"}])] = None,
) -> WalletPublic:
    """Open the user's wallet in a currency, or return it if it is open already (so 200)."""
    currency = None if body is None else body.currency
    return WalletPublic.of(wallets.open_wallet(ctx, user_id, currency))


@router.get(
    "/wallets/{wallet_id}", operation_id="getWallet", response_model=WalletPublic, responses=_READ
)
def get_wallet(wallet: VisibleWallet) -> WalletPublic:
    """A wallet's balance and what is available to spend."""
    return WalletPublic.of(wallet)


@router.get(
    "/wallets/{wallet_id}/statement",
    operation_id="getWalletStatement",
    response_model=Page[StatementEntryPublic],
    responses=_READ,
)
def statement(
    wallet: VisibleWallet,
    ctx: ContextDep,
    limit: Annotated[
        int,
        Query(
            description="Entries per page.",
            # Documented here, checked by the use case (page_size_invalid).
            json_schema_extra={"minimum": 1, "maximum": limits.PAGE_SIZE_MAX},
        ),
    ] = limits.PAGE_SIZE_DEFAULT,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> Page[StatementEntryPublic]:
    """The wallet's movements, newest first, each with the balance it left."""
    page = wallets.statement(ctx, wallet.wallet.id, limit=limit, cursor=cursor)
    return Page(
        items=[StatementEntryPublic.of(entry) for entry in page.entries],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/wallets/{wallet_id}/statement.csv",
    operation_id="getWalletStatementCsv",
    response_class=Response,
    responses={
        200: {
            "description": f"The newest {limits.STATEMENT_CSV_ROWS_MAX} movements as CSV.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **_READ,
    },
)
def statement_csv(wallet: VisibleWallet, ctx: ContextDep) -> Response:
    """The statement as CSV, amounts in major units, for a spreadsheet."""
    text = wallets.statement_csv(ctx, wallet.wallet.id)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{wallet.wallet.id}.csv"'},
    )
