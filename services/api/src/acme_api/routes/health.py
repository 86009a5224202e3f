"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from acme.core.errors import Unavailable
from acme_api.dependencies import ContainerDep
from acme_api.problems import problem_response

router = APIRouter(prefix="/health", tags=["health"])

READY_TIMEOUT_SECONDS = 2.0


@router.get("/live", summary="The process is up")
async def live() -> dict[str, str]:
    """Answers 200 while the process can serve HTTP at all; checks nothing else."""
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="The process can do useful work",
    responses={503: {"description": "The database is down or the process is draining"}},
)
async def ready(request: Request, container: ContainerDep) -> JSONResponse:
    """200 when the database answers (the broker's state is reported); 503 problem otherwise."""
    if container.draining:
        return problem_response(
            request,
            status=503,
            code="draining",
            detail="the process is shutting down",
            headers={"Retry-After": "5"},
        )
    checks: dict[str, str] = {}
    failures: list[str] = []
    try:
        await asyncio.wait_for(container.database.ping(), READY_TIMEOUT_SECONDS)
        checks["database"] = "ok"
    except (Unavailable, TimeoutError) as exc:
        checks["database"] = "unavailable"
        failures.append(f"database: {exc.detail if isinstance(exc, Unavailable) else 'timeout'}")
    if container.broker_configured:
        # Reported, never required: events wait in the outbox while the broker
        # is away, so a broker blip must not take every replica out of service.
        try:
            await asyncio.wait_for(container.bus.ping(), READY_TIMEOUT_SECONDS)
            checks["broker"] = "ok"
        except (Unavailable, TimeoutError):
            checks["broker"] = "unavailable"
    if failures:
        return problem_response(
            request,
            status=503,
            code="not_ready",
            detail="; ".join(failures),
            headers={"Retry-After": "5"},
            extra={"checks": checks},
        )
    return JSONResponse({"status": "ready", "checks": checks})
