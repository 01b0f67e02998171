"""A student's pages: upload, the queue position, the results as they come, the history.

A student sees their own submissions only: any other id is a 404, the same as an id
that does not exist, so ids reveal nothing. Results are the student view
(``grader.student_view``): a hidden case shows its verdict and nothing else.
"""
from __future__ import annotations

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response

from grader.serve import course, results, web
from grader.serve.bridge import Verdict, student_view
from grader.serve.intake import UploadRefused, check_upload, shown_name

router = APIRouter()


def _own(request: Request, number: int) -> results.SubmissionView:
    """Submission ``number`` if it is the signed-in student's (else 404, whoever's it is)."""
    found = web.need_student(request)
    with web.database(request).transaction(write=False) as tx:
        row = course.submission(tx, number)
        if row is None or row["student"] != found.who:
            raise HTTPException(404, "there is no such submission")
        mine = results.views(tx, course.submissions_of(tx, found.who))
    return next(view for view in mine if view.id == number)


def _result_html(view: results.SubmissionView) -> str:
    return web.fragment("student_result.html.j2", view=view, sv=student_view, Verdict=Verdict)


@router.get("/")
def home(request: Request) -> Response:
    found = web.session(request)
    if found is None:
        return web.render(request, "welcome.html.j2")
    if found.is_instructor:
        return RedirectResponse("/instructor", status_code=303)
    with web.database(request).transaction(write=False) as tx:
        member = course.student(tx, found.who)
        history = results.views(tx, course.submissions_of(tx, found.who))
    if member is None:
        raise HTTPException(401, "your account is no longer on the roster")
    return web.render(request, "student_home.html.j2", member=member, history=history,
                      due=course.due(web.settings(request), member))


@router.post("/submissions")
def upload(request: Request, file: UploadFile = File(...), csrf: str = Form("")) -> Response:
    found = web.need_student(request)
    web.check_csrf(found, csrf)
    values = web.settings(request)
    data = file.file.read(values.max_upload_bytes + 1)
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        check_upload(data, values.max_upload_bytes)
        with web.database(request).transaction() as tx:
            number = course.add_submission(tx, found.who, shown_name(file.filename), data,
                                           values.submissions_per_hour)
    except UploadRefused as error:
        status = 413 if len(data) > values.max_upload_bytes else 400
        raise HTTPException(status, f"not accepted: {error}") from None
    except course.RateLimited as error:
        raise HTTPException(429, str(error)) from None
    if wants_json:
        return JSONResponse({"id": number, "url": f"/submissions/{number}"}, status_code=201)
    return RedirectResponse(f"/submissions/{number}", status_code=303)


@router.get("/submissions/{number}")
def submission_page(request: Request, number: int) -> Response:
    found = web.session(request)
    if found is not None and found.is_instructor:
        return RedirectResponse(f"/instructor/submissions/{number}", status_code=303)
    view = _own(request, number)
    return web.render(request, "student_submission.html.j2", view=view,
                      result=_result_html(view))


@router.get("/api/submissions/{number}")
def submission_state(request: Request, number: int) -> JSONResponse:
    """What the submission page polls: each lane's state, and the results as HTML."""
    view = _own(request, number)
    return JSONResponse({"id": view.id, "finished": view.finished,
                         "lanes": [lane.model_dump() for lane in view.lanes],
                         "total": view.report.total if view.report else None,
                         "html": _result_html(view)})
