"""The risk service: VaR and expected shortfall of a posted portfolio, over HTTP.

BentoML 1.4 new-style service. It validates the request (pydantic, then the library's own
checks), calls `bifrost.risk`, and answers with typed JSON. Bad input is a 400 with a
message naming what was wrong; the library never sees a value it would refuse silently.

    cd bentos/risk && bentoml serve service:RiskService --port 3000
    bifrost serve risk --port 3000            # the same, from anywhere
"""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any, Literal

import bentoml
from bentoml.exceptions import InvalidArgument
from pydantic import BaseModel, Field

from bifrost.config import load_settings
from bifrost.errors import InvalidInputError
from bifrost.risk import portfolio_risk

_OPEN_PATHS = ("/livez", "/readyz", "/healthz", "/metrics", "/docs", "/docs.json")


class Guard:
    """ASGI middleware in front of the API: JSON bodies only, and the bearer token if one is set.

    BentoML answers a POST with a malformed content type (``multipart/form-data`` without
    a boundary) with a 500; this turns it into the 415 it is. The token comes from
    ``[keys] risk_service_token`` in bifrost.toml; health, metrics and docs stay open.
    """

    def __init__(self, app: Any, token: str | None = None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(_OPEN_PATHS):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            if self.token is not None:
                given = headers.get("authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                    await _reply(send, 401, "missing or wrong bearer token")
                    return
            if scope["method"] == "POST" and not headers.get("content-type", "").startswith("application/json"):
                await _reply(send, 415, "the body must be JSON (Content-Type: application/json)")
                return
        await self.app(scope, receive, send)


async def _reply(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class VarResponse(BaseModel):
    """VaR and ES as positive loss fractions of the portfolio's value."""

    var: float = Field(description="Value at Risk: the loss not exceeded with the given confidence")
    es: float = Field(description="Expected shortfall: the mean loss beyond the VaR")
    method: str
    confidence: float
    horizon_days: int
    observations: int = Field(description="Days of return history used")


@bentoml.service(name="bifrost_risk", traffic={"timeout": 30})
class RiskService:
    """Portfolio risk from posted return histories."""

    @bentoml.api(route="/var")
    def var(
        self,
        returns: Annotated[
            dict[str, list[float]], Field(description="Daily simple returns per symbol, oldest first, equal lengths")
        ],
        weights: Annotated[dict[str, float], Field(description="Fraction of portfolio value per symbol")],
        # inclusive bounds here (OpenAPI 3.0 has no numeric exclusiveMaximum); the library
        # refuses exactly 0 and 1
        confidence: Annotated[float, Field(ge=0.0, le=1.0, description="VaR level in (0, 1), e.g. 0.99")] = 0.99,
        horizon_days: Annotated[int, Field(ge=1, le=250, description="Horizon in days")] = 1,
        method: Literal["historical", "parametric", "montecarlo", "filtered_historical"] = "historical",
    ) -> VarResponse:
        """Return the VaR and ES of the portfolio ``weights`` given each symbol's return history."""
        try:
            risk = portfolio_risk(
                returns, weights, confidence=confidence, horizon_days=horizon_days, method=method,
                n_scenarios=20_000,
            )  # fmt: skip
        except InvalidInputError as exc:
            raise InvalidArgument(str(exc)) from None
        return VarResponse(
            var=risk.var, es=risk.es, method=risk.method, confidence=risk.confidence,
            horizon_days=risk.horizon_days, observations=risk.observations,
        )  # fmt: skip


RiskService.add_asgi_middleware(Guard, token=load_settings().keys.get("risk_service_token"))
