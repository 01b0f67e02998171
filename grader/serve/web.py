"""What every page shares: Jinja2 with autoescaping, the security headers, the session.

Every text from a report (output, exception texts, file names) reaches a page only
through Jinja2's autoescaping, and the Content-Security-Policy allows no script or style
but the page's own (a fresh nonce per response): even markup that slipped through could
not run. Pages are never framed, and no Referer leaves (sign-in links hold a secret).
"""
from __future__ import annotations

import base64
import secrets
import time
from datetime import datetime, timezone
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader
from starlette.middleware.base import BaseHTTPMiddleware

from grader.serve import auth, course
from grader.serve.db import Database

CSP = ("default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
       "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SETTINGS_CACHE_SECONDS = 2.0


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "none"
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _svg_source(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


TEMPLATES = Environment(loader=PackageLoader("grader.serve", "templates"), autoescape=True,
                        trim_blocks=True, lstrip_blocks=True)
TEMPLATES.filters.update(when=_when, svg_source=_svg_source)


def database(request: Request) -> Database:
    return request.app.state.db


def settings(request: Request) -> course.CourseSettings:
    return course_settings(request.app.state)


def course_settings(state: Any) -> course.CourseSettings:
    """The course's settings (of an app's ``state``), read again every couple of seconds."""
    if time.monotonic() - state.settings_read > SETTINGS_CACHE_SECONDS:
        with state.db.transaction(write=False) as tx:
            state.settings = course.settings(tx)
        state.settings_read = time.monotonic()
    return state.settings


def session(request: Request) -> auth.Session | None:
    if not hasattr(request.state, "session"):
        with database(request).transaction(write=False) as tx:
            request.state.session = auth.find_session(
                tx, request.cookies.get(auth.SESSION_COOKIE))
    return request.state.session


def need_student(request: Request) -> auth.Session:
    found = session(request)
    if found is None or found.is_instructor:
        raise HTTPException(401, "sign in with the link your instructor sent you")
    return found


def need_instructor(request: Request) -> auth.Session:
    found = session(request)
    if found is None or not found.is_instructor:
        raise HTTPException(401, "sign in as the instructor first")
    return found


def check_csrf(found: auth.Session, sent: Any) -> None:
    if not found.csrf_ok(sent if isinstance(sent, str) else None):
        raise HTTPException(403, "this form is out of date or was not sent from this site: "
                                 "reload the page and try again")


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    found = session(request)
    page = TEMPLATES.get_template(template).render(
        nonce=request.state.nonce, session=found, csrf=found.csrf if found else "",
        course=settings(request), **context)
    return HTMLResponse(page, status_code=status)


def fragment(template: str, **context: Any) -> str:
    """A part of a page (HTML, autoescaped) that a page's script puts in place."""
    return TEMPLATES.get_template(template).render(**context)


class SecurityHeaders(BaseHTTPMiddleware):
    """A nonce for the page's own script and style, and the headers that go with it."""

    async def dispatch(self, request: Request, call_next):
        request.state.nonce = secrets.token_urlsafe(16)
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP.format(nonce=request.state.nonce)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
        return response


def set_session_cookie(request: Request, response: Any, cookie: str) -> None:
    """The session cookie: Secure when asked (``--secure-cookies``) or when the request came
    over https (directly, or as a proxy's X-Forwarded-Proto says)."""
    secure = request.app.state.options.secure_cookies or request.url.scheme == "https"
    response.set_cookie(auth.SESSION_COOKIE, cookie, max_age=auth.SESSION_SECONDS,
                        httponly=True, samesite="lax", secure=secure, path="/")
