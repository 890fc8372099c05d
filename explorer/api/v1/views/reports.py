"""``/api/v1/reports``: audit report jobs (explorer/reports/jobs.py).

POST creates (or reuses) a job and answers 202 with ``Location`` of its status; the status
answers 200 with state and progress; ``/download`` answers 409 while queued or running, 200 with
the file when done, 410 once expired or failed (with the reason).
"""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from explorer.api.v1.serializers.common import ErrorSerializer
from explorer.models import ReportJob
from explorer.params import BadParameter
from explorer.reports import jobs
from explorer.reports.request import FORMATS, SCOPES, ReportRequestError, make_request, parse_format
from explorer.views.errors import error_body

_ERR = ErrorSerializer
_BAD = OpenApiResponse(_ERR, description="A malformed or unknown field or id; `error` names it.")
_THROTTLED = OpenApiResponse(_ERR, description="Throttled: retry after the `Retry-After` seconds.")
_FILE_TYPES = {
    "application/x-tar": "a JSON report (manifest and evidence bundles)",
    "application/json": "a mint's complete evidence bundle (a JSON report of scope mint)",
    "text/csv": "a CSV report",
    "application/pdf": "a PDF report",
}
_JOB_ID = "3f6d7c1e-2b8a-4d5e-9c1f-0a2b3c4d5e6f"
JOB_EXAMPLE = OpenApiExample(
    "a finished token report",
    value={
        "id": _JOB_ID,
        "state": "done",
        "format": "csv",
        "request": {"scope": "token", "id": "0x" + "aa" * 20},
        "progress_done": 1200,
        "progress_total": 1200,
        "positions": {
            "bitcoin_height": 871234,
            "bitcoin_hash_display": "00" * 4 + "ab" * 28,
            "hemi_block": 1500000,
            "hemi_block_hash": "0x" + "cd" * 32,
        },
        "size": 412345,
        "sha256": "ef" * 32,
        "error": "",
        "created_at": "2026-12-06T10:00:00Z",
        "finished_at": "2026-12-06T10:02:10Z",
        "expires_at": "2026-12-07T10:02:10Z",
        "download": f"/api/v1/reports/{_JOB_ID}/download",
    },
)
_FIELDS = ("scope", "format", "id", "from", "to", "since", "until", "at_btc_height", "at_hemi_block")


class ReportRequestSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=SCOPES)
    format = serializers.ChoiceField(choices=FORMATS)
    id = serializers.CharField(
        required=False, help_text="mint: Hemi tx hash; token: token address; address: an address (0x-hex)."
    )
    since = serializers.CharField(required=False, help_text="time: ISO-8601 start (UTC unless stated).")
    until = serializers.CharField(required=False, help_text="time: ISO-8601 end.")
    at_btc_height = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="Judge at this Bitcoin height (blocks above it ignored; at most the tip).",
    )
    at_hemi_block = serializers.IntegerField(
        required=False, min_value=0, help_text="Judge at this Hemi block (blocks above it ignored; at most the tip)."
    )

    def get_fields(self):
        # "from" is a Python keyword, so these two cannot be class attributes.
        fields = super().get_fields()
        fields["from"] = serializers.IntegerField(required=False, min_value=0, help_text="blocks: first Hemi block.")
        fields["to"] = serializers.IntegerField(required=False, min_value=0, help_text="blocks: last Hemi block.")
        return fields


class ReportJobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=[s for s, _ in ReportJob.STATES])
    format = serializers.ChoiceField(choices=FORMATS)
    request = serializers.DictField(help_text="The normalized request (scope and selectors).")
    progress_done = serializers.IntegerField(help_text="Items judged so far.")
    progress_total = serializers.IntegerField(allow_null=True, help_text="Items in the scope, once counted.")
    positions = serializers.DictField(allow_null=True, help_text="The chain positions the report was judged at.")
    size = serializers.IntegerField(allow_null=True, help_text="File size in bytes, when done.")
    sha256 = serializers.CharField(allow_blank=True, help_text="SHA-256 of the file, when done.")
    error = serializers.CharField(allow_blank=True, help_text="Why the job failed.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When the file is deleted (REPORTS_TTL_SECONDS after it is done)."
    )
    download = serializers.SerializerMethodField()

    def get_download(self, job) -> str:
        return f"/api/v1/reports/{job.pk}/download"


def _text(value) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None if value is None else "?"
    return str(value)


def request_from(data) -> tuple:
    """(Request, format) from a JSON body or form data; ReportRequestError names the problem."""
    if not hasattr(data, "get"):
        raise ReportRequestError("the body must be a JSON object")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ReportRequestError(f"unknown field {unknown[0]!r}")
    fmt = parse_format(_text(data.get("format")))
    req = make_request(
        _text(data.get("scope")),
        id=_text(data.get("id")),
        from_block=_text(data.get("from")),
        to_block=_text(data.get("to")),
        since=_text(data.get("since")),
        until=_text(data.get("until")),
        at_btc_height=_text(data.get("at_btc_height")),
        at_hemi_block=_text(data.get("at_hemi_block")),
    )
    return req, fmt


def _job(pk: str) -> ReportJob:
    job = ReportJob.objects.filter(pk=pk).first()
    if job is None:
        raise Http404("no report job with this id")
    return jobs.expire_if_due(job)


class ReportCreateView(APIView):
    @extend_schema(
        operation_id="reports_create",
        summary="Ask for an audit report (JSON, CSV or PDF) of a scope; built by the worker",
        description="Answers 202 with the job and `Location: /api/v1/reports/<id>`. An identical request "
        "(same scope, selectors, pins and format) reuses the live job. `scope` mint/token/address take `id`; "
        "`blocks` takes `from` and `to`; `time` takes `since` and `until`; `tunnel` takes nothing. With "
        "`at_btc_height`/`at_hemi_block` (either or both; at most the indexed tips) the report is judged at "
        "those positions: items, verdicts, confirmations and evidence bundles as the explorer gave them when "
        "the chains ended there, so later blocks do not change its bytes (every mint judged live: slower). "
        "Without them it is judged at the indexed tips and records them.",
        request=ReportRequestSerializer,
        responses={202: ReportJobSerializer, 400: _BAD, 429: _THROTTLED},
        examples=[
            OpenApiExample(JOB_EXAMPLE.name, value=JOB_EXAMPLE.value, response_only=True, status_codes=["202"]),
            OpenApiExample(
                "a token report", value={"scope": "token", "id": "0x" + "aa" * 20, "format": "csv"}, request_only=True
            ),
        ],
    )
    def post(self, request):
        try:
            req, fmt = request_from(request.data)
        except ReportRequestError as exc:
            raise BadParameter(str(exc)) from None
        job, _ = jobs.submit(req, fmt)
        return Response(ReportJobSerializer(job).data, status=202, headers={"Location": f"/api/v1/reports/{job.pk}"})


class ReportStatusView(APIView):
    @extend_schema(
        operation_id="reports_retrieve",
        summary="A report job's state (queued, running, done, failed, expired) and progress",
        responses={
            200: ReportJobSerializer,
            400: _BAD,
            404: OpenApiResponse(_ERR, description="No such job."),
            429: _THROTTLED,
        },
        examples=[JOB_EXAMPLE],
    )
    def get(self, request, job_id):
        return Response(ReportJobSerializer(_job(job_id)).data)


class ReportDownloadView(APIView):
    @extend_schema(
        operation_id="reports_download",
        summary="The report file: 409 while it is being built, 410 once expired or failed",
        responses={
            **{
                (200, media): OpenApiResponse(OpenApiTypes.BINARY, description=f"The report: {what}.")
                for media, what in _FILE_TYPES.items()
            },
            400: _BAD,
            404: OpenApiResponse(_ERR, description="No such job."),
            429: _THROTTLED,
            409: OpenApiResponse(_ERR, description="Queued or running: poll the status URL."),
            410: OpenApiResponse(_ERR, description="Expired (files live REPORTS_TTL_SECONDS) or failed (the reason)."),
        },
    )
    def get(self, request, job_id):
        job = _job(job_id)
        if job.state in (ReportJob.QUEUED, ReportJob.RUNNING):
            done = f"{job.progress_done} of {job.progress_total}" if job.progress_total is not None else "not started"
            return Response(error_body(409, f"the report is {job.state} ({done}); try again later"), status=409)
        if job.state == ReportJob.FAILED:
            return Response(error_body(410, f"the report failed: {job.error}"), status=410)
        path = jobs.file_path(job)
        if job.state == ReportJob.EXPIRED or not path.exists():
            ttl = settings.REPORTS_TTL_SECONDS
            return Response(error_body(410, f"the report expired (files live {ttl} s); ask again"), status=410)
        ext = path.suffix[1:]
        name = f"hemiscope-report-{make_request(**jobs._request_args(job.request)).slug()}.{ext}"
        response = FileResponse(open(path, "rb"), content_type=jobs.CONTENT_TYPES[ext])
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["X-Report-SHA256"] = job.sha256
        return response
