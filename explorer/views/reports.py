"""Report buttons on the token, address, block and tunnel pages, and the job's progress page.

``POST /reports`` (the button's form) submits a job (``explorer/reports/jobs.py``; identical
requests reuse one) and answers, for htmx, the progress fragment in place under the button, or
without JavaScript a 303 to ``/reports/<id>``. That page (and the fragment, polled by htmx every
2 s while the job is queued or running, replaced by one without polling once it ends) shows the
state, the progress and, when done, the download link with the file's SHA-256 and expiry.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from explorer.api.v1.views.reports import request_from
from explorer.models import ReportJob
from explorer.reports import jobs
from explorer.reports.request import ReportRequestError
from explorer.views.common import bad_request, not_found

POLL_SECONDS = 2
_FORM_FIELDS = ("scope", "format", "id", "from", "to", "since", "until", "at_btc_height", "at_hemi_block")


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303  # after a POST: the browser GETs the progress page


def _context(job: ReportJob) -> dict:
    percent = None
    if job.progress_total:
        percent = min(100, round(100 * job.progress_done / job.progress_total))
    return {
        "job": job,
        "percent": percent,
        "running": job.state in (ReportJob.QUEUED, ReportJob.RUNNING),
        "poll_seconds": POLL_SECONDS,
        "ttl_hours": round(settings.REPORTS_TTL_SECONDS / 3600, 1),
        "download": reverse("explorer:api-v1:report-download", args=[job.pk]),
    }


@require_POST
def report_create(request):
    data = {k: v for k, v in request.POST.items() if k in _FORM_FIELDS and v != ""}
    try:
        req, fmt = request_from(data)
    except ReportRequestError as exc:
        return bad_request(request, str(exc))
    job, _ = jobs.submit(req, fmt)
    if request.htmx:
        return render(request, "explorer/reports/status_part.html", _context(job), status=202)
    return HttpResponseSeeOther(reverse("explorer:report", args=[job.pk]))


@require_GET
@vary_on_headers("HX-Request")
def report_status(request, pk):
    job = ReportJob.objects.filter(pk=pk).first()
    if job is None:
        not_found("no report job with this id")
    job = jobs.expire_if_due(job)
    template = "explorer/reports/status_part.html" if request.htmx else "explorer/reports/status.html"
    response: HttpResponse = render(request, template, _context(job))
    response["Cache-Control"] = "no-cache"
    return response
