"""The web application: signing in and out, the health check, and the pages' routers.

``create_app`` builds the ASGI app (the upload limit wrapped around FastAPI) for
uvicorn or a test client; with ``start_workers`` it also starts the worker processes
that grade, and stops them when it stops.
"""
from __future__ import annotations

import secrets
import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from grader.serve import auth, course, logs, queue, web
from grader.serve.db import Database
from grader.serve.instructor_pages import router as instructor_router
from grader.serve.intake import LimitUploads
from grader.serve.options import ServeOptions
from grader.serve.student_pages import router as student_router
from grader.serve.workers import WorkerPool

LOGIN_COOKIE = "grader_login"  # the login form's CSRF token, before there is a session


def create_app(options: ServeOptions, db: Database, start_workers: bool = True) -> Any:
    log = logs.setup()
    pool = WorkerPool(options) if start_workers else None

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if pool is not None:
            pool.start()
        log.info("serving", extra={"database": db.kind, "workers": options.workers,
                                   "mnist_workers": options.mnist_workers})
        yield
        if pool is not None:
            pool.stop()

    app = FastAPI(title="nn-grader course site", lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)
    app.state.db, app.state.options, app.state.pool = db, options, pool
    app.state.settings, app.state.settings_read = course.CourseSettings(), float("-inf")
    app.add_middleware(web.SecurityHeaders)
    app.include_router(student_router)
    app.include_router(instructor_router)
    _routes(app, options, db)
    _errors(app)

    @app.middleware("http")
    async def access_log(request: Request, call_next):
        started = time.monotonic()
        response = await call_next(request)
        path = "/signin/..." if request.url.path.startswith("/signin/") else request.url.path
        log.info("request", extra={"method": request.method, "path": path,
                                   "status": response.status_code,
                                   "ms": round((time.monotonic() - started) * 1000, 1)})
        return response

    return LimitUploads(app, lambda: web.course_settings(app.state).max_upload_bytes)


def _routes(app: FastAPI, options: ServeOptions, db: Database) -> None:
    @app.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            with db.transaction(write=False) as tx:
                depth = queue.depth(tx)
        except Exception as error:  # whatever the engine raises: not healthy
            return JSONResponse({"ok": False, "database": str(error)[:200]}, status_code=503)
        return JSONResponse({"ok": True, "database": db.kind, "queue": depth,
                             "workers": app.state.pool.pids() if app.state.pool else []})

    @app.get("/signin/{token}")
    def signin(request: Request, token: str) -> Response:
        with db.transaction() as tx:
            student, why = auth.student_of_link(tx, token)
            cookie = auth.open_session(tx, student) if student else None
        if cookie is None:
            return web.render(request, "message.html.j2", 403, title="Cannot sign in",
                              message=why)
        response = RedirectResponse("/", status_code=303)
        web.set_session_cookie(request, response, cookie)
        return response

    @app.get("/login")
    def login_page(request: Request) -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        response = web.render(request, "login.html.j2", login_csrf=token)
        response.set_cookie(LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                            secure=options.secure_cookies)
        return response

    @app.post("/login")
    def login(request: Request, password: str = Form(""), csrf: str = Form("")) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(expected, csrf):
            raise HTTPException(403, "the sign-in form is out of date: reload it")
        with db.transaction(write=False) as tx:
            stored = course.password_hash(tx)
        if stored is None or not auth.check_password(password, stored):
            return web.render(request, "login.html.j2", 403, login_csrf=expected,
                              error="wrong password")
        with db.transaction() as tx:
            cookie = auth.open_session(tx, auth.INSTRUCTOR)
        response = RedirectResponse("/instructor", status_code=303)
        web.set_session_cookie(request, response, cookie)
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        found = web.session(request)
        if found is None:
            raise HTTPException(401, "not signed in")
        web.check_csrf(found, csrf)
        with db.transaction() as tx:
            auth.close_session(tx, request.cookies.get(auth.SESSION_COOKIE))
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(auth.SESSION_COOKIE)
        return response


def _errors(app: FastAPI) -> None:
    """Errors as a short page (or JSON for the API), never a traceback."""

    def reply(request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith("/api/") or \
                "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"error": message}, status_code=status)
        return web.render(request, "message.html.j2", status, title=f"Error {status}",
                          message=message)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        message = error.detail if isinstance(error.detail, str) else "there is no such page"
        if message == "Not Found":  # a path no route serves
            message = "there is no such page"
        return reply(request, error.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def bad_form(request: Request, error: RequestValidationError) -> Response:
        fields = ", ".join(str(item["loc"][-1]) for item in error.errors())
        return reply(request, 400, f"the form is missing or has a bad value: {fields}")
