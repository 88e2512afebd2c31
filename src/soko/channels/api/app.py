"""The HTTP API application (FastAPI): health and the OpenAPI document; /v1 routers come next."""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import soko
from soko import bootstrap
from soko.bootstrap import Runtime
from soko.channels.api.problems import domain_error_handler
from soko.domain.errors import DomainError
from soko.storage import schema


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    database: Literal["sqlite", "postgresql"]
    schema_current: bool


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title=f"{runtime.settings.operator_name} API",
        version=soko.__version__,
        summary="Payments, wallets and escrow for small businesses: the Soko JSON API.",
    )
    app.state.runtime = runtime
    app.add_exception_handler(DomainError, domain_error_handler)

    @app.get(
        "/health",
        tags=["operations"],
        response_model=HealthPublic,
        responses={503: {"model": HealthPublic, "description": "The database is unreachable."}},
    )
    def health() -> HealthPublic | JSONResponse:
        """Whether this process can reach its database and the schema is up to date."""
        engine = runtime.engine
        database: Literal["sqlite", "postgresql"] = (
            "postgresql" if engine.dialect.name == "postgresql" else "sqlite"
        )
        try:
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            current = schema.is_current(engine)
        except sa.exc.DBAPIError:
            body = HealthPublic(
                status="degraded", version=soko.__version__, database=database, schema_current=False
            )
            return JSONResponse(body.model_dump(), status_code=503)
        return HealthPublic(
            status="ok" if current else "degraded",
            version=soko.__version__,
            database=database,
            schema_current=current,
        )

    return app


def create_app_from_environment() -> FastAPI:
    """The uvicorn factory: each worker process builds its own runtime from SOKO_* settings."""
    return create_app(bootstrap.build())
