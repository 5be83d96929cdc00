"""The embeddable widget: /widget.js for host pages, and /embed, the compact chat it frames."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.responses import Response

from newsbot.web.limits import frame_ancestors

STATIC = Path(__file__).resolve().parent / "static"

# The embed page runs only its own script and talks only to this server; article text is
# rendered with textContent, and the CSP is a second line should that ever slip.
_EMBED_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
              "base-uri 'none'; form-action 'none'; ")
_ASSETS = {"widget.js": "text/javascript", "embed.js": "text/javascript", "embed.css": "text/css"}


def widget_router(allowed_origins: list[str]) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    embed_headers = {"Content-Security-Policy": _EMBED_CSP + frame_ancestors(allowed_origins),
                     "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

    @router.api_route("/embed", methods=["GET", "HEAD"])
    def embed() -> FileResponse:
        return FileResponse(STATIC / "embed.html", media_type="text/html", headers=embed_headers)

    @router.api_route("/embed/allowed", methods=["GET", "HEAD"], status_code=204)
    def embed_allowed() -> Response:
        """Empty: the CORS headers are the answer. They grant only the origins that may embed the chat
        (the same list as the embed page's frame-ancestors), so widget.js, asking from the host page,
        can tell a refused site before framing a page the browser would not show."""
        return Response(status_code=204, headers={"Cache-Control": "no-store"})

    for name, media_type in _ASSETS.items():
        router.add_api_route(f"/{name}", _asset(name, media_type), methods=["GET", "HEAD"])
    return router


def _asset(name: str, media_type: str) -> Callable[[], FileResponse]:
    def serve() -> FileResponse:
        return FileResponse(STATIC / name, media_type=media_type,
                            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    return serve
