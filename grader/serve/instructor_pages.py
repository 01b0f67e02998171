"""The instructor's pages: the live gradebook, any full report, regrades, settings, exports.

The gradebook is ``grader batch``'s (``grader.batch.gradebook`` rows, the class report's
charts and pass rates), built from each student's submission that counts. Reports here
are the instructor's: hidden cases are named, with their messages.
"""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from grader.serve import course, queue, results, web
from grader.serve.bridge import (Section, case_sections, charts, common_failures, given_code,
                                 load_config, pass_rate, similar_pairs, to_csv)

router = APIRouter(prefix="/instructor")


def _sections(request: Request) -> tuple[Section, ...]:
    """The sections of the site's cases, read for each page: new cases show after a regrade
    without a restart."""
    return case_sections(request.app.state.options.cases_dir)


def _gradebook(request: Request) -> dict:
    sections = _sections(request)
    with web.database(request).transaction(write=False) as tx:
        book, counting = results.gradebook(tx, sections)
        depth = queue.depth(tx)
    graded = [row for row in book if row.report is not None and row.report.error is None]
    rates = {section.title: pass_rate(graded, section.name) for section in sections}
    return {"book": book, "counting": counting, "depth": depth, "sections": sections,
            "rates": rates, "graded": len(graded)}


def _table(found: dict) -> str:
    return web.fragment("gradebook_table.html.j2", **found)


def _when(text: str) -> float | None:
    """A date-time field (``YYYY-MM-DDTHH:MM``, UTC), or None when empty."""
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise HTTPException(400, f"{text!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None


def _checked(request: Request, csrf: str) -> None:
    web.check_csrf(web.need_instructor(request), csrf)


@router.get("")
def gradebook_page(request: Request) -> Response:
    web.need_instructor(request)
    found = _gradebook(request)
    sections = found["sections"]
    pictures = charts(found["book"], common_failures(found["book"], sections), sections) \
        if found["graded"] else {}
    return web.render(request, "instructor.html.j2", table=_table(found), charts=pictures,
                      **found)


@router.get("/api/gradebook")
def gradebook_state(request: Request) -> JSONResponse:
    """What the gradebook page polls: the table as HTML and the queue."""
    web.need_instructor(request)
    found = _gradebook(request)
    return JSONResponse({"html": _table(found), "queue": found["depth"],
                         "graded": found["graded"]})


@router.get("/submissions/{number}")
def full_report(request: Request, number: int) -> Response:
    web.need_instructor(request)
    with web.database(request).transaction(write=False) as tx:
        row = course.submission(tx, number)
        if row is None:
            raise HTTPException(404, "there is no such submission")
        view = next(view for view in results.views(tx, course.submissions_of(tx, row["student"]))
                    if view.id == number)
    return web.render(request, "instructor_report.html.j2", view=view)


@router.get("/students/{student}")
def student_history(request: Request, student: str) -> Response:
    web.need_instructor(request)
    with web.database(request).transaction(write=False) as tx:
        member = course.student(tx, student)
        if member is None:
            raise HTTPException(404, "there is no such student")
        history = results.views(tx, course.submissions_of(tx, student))
    return web.render(request, "instructor_student.html.j2", member=member, history=history,
                      due=course.due(web.settings(request), member))


@router.get("/similarity")
def similarity(request: Request) -> Response:
    """Pairs of counting submissions whose own code is alike (as ``grader batch`` finds)."""
    web.need_instructor(request)
    with web.database(request).transaction(write=False) as tx:
        texts = results.code_of(tx, {student: view.id
                                     for student, view in results.counting(tx).items()})
    limits = load_config(request.app.state.options.cases_dir).similarity
    pairs = similar_pairs(texts, given_code(), limits.threshold, limits.min_overlap)
    return web.render(request, "similarity.html.j2", pairs=pairs, limits=limits,
                      compared=len(texts))


@router.post("/regrade")
def regrade(request: Request, csrf: str = Form(""), student: str = Form("")) -> Response:
    """Grade again (after new cases): one student's counting submission, or everyone's."""
    _checked(request, csrf)
    with web.database(request).transaction() as tx:
        counting = results.counting(tx)
        chosen = [counting[student]] if student else list(counting.values())
        if student and student not in counting:
            raise HTTPException(404, f"{student!r} has no submission that counts")
        for view in chosen:
            queue.enqueue(tx, view.id, view.student)
    return RedirectResponse("/instructor", status_code=303)


@router.post("/settings")
def change_settings(request: Request, csrf: str = Form(""), deadline: str = Form(""),
                    submissions_per_hour: int = Form(...), max_upload_mb: float = Form(...),
                    title: str = Form(...)) -> Response:
    _checked(request, csrf)
    try:
        with web.database(request).transaction() as tx:
            course.change_settings(tx, deadline=_when(deadline), title=title,
                                   submissions_per_hour=submissions_per_hour,
                                   max_upload_mb=max_upload_mb)
    except course.CourseError as error:
        raise HTTPException(400, str(error)) from None
    request.app.state.settings_read = float("-inf")
    return RedirectResponse("/instructor", status_code=303)


@router.post("/extension")
def extension(request: Request, csrf: str = Form(""), student: str = Form(...),
              until: str = Form("")) -> Response:
    _checked(request, csrf)
    try:
        with web.database(request).transaction() as tx:
            course.set_extension(tx, student, _when(until))
    except course.CourseError as error:
        raise HTTPException(404, str(error)) from None
    return RedirectResponse("/instructor", status_code=303)


@router.get("/export.csv")
def export_csv(request: Request) -> Response:
    web.need_instructor(request)
    found = _gradebook(request)
    return Response(to_csv(found["book"], found["sections"]), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="gradebook.csv"'})


@router.get("/export.json")
def export_json(request: Request) -> Response:
    web.need_instructor(request)
    return Response(results.export_json(_gradebook(request)["book"]),
                    media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="gradebook.json"'})
