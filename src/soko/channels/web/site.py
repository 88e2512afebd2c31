"""The web's routers, in the order they are matched: the public pages, then the signed-in app.

A group of pages (consumer.py, merchant.py, agent.py, account.py) adds its router here once.
"""

from __future__ import annotations

from fastapi import APIRouter

from soko.channels.web import account, agent, app_routes, consumer, deposits, merchant, routes

ROUTERS: list[APIRouter] = [
    routes.router,
    app_routes.router,
    agent.router,
    consumer.router,
    account.router,
    account.public,
    merchant.router,
    deposits.router,
]
