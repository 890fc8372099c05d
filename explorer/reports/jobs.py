"""Report jobs: the API and the page buttons create them, the worker builds them.

1. ``submit``: a request (normalized) and a format name a job; an identical request reuses the
   live job (queued, running or done and not expired) - a partial unique index makes that hold
   under concurrent requests - else a new job is queued and the task sent after commit.
2. ``run`` (Celery task ``explorer.tasks.build_report``): claims the job by compare-and-set
   (a duplicate delivery finds it claimed and leaves), writes ``<REPORTS_DIR>/<id>.<ext>.part``,
   saving progress per batch, then renames it into place and records size and SHA-256. Any error
   marks the job failed with its reason.
3. Files live ``REPORTS_TTL_SECONDS`` after they are done; then the job reads as expired (its
   download answers 410) and ``purge_expired`` (beat, hourly) deletes the file.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from explorer.models import ReportJob
from explorer.reports import archive
from explorer.reports.build import write_report
from explorer.reports.request import ReportRequestError, Request, make_request

log = logging.getLogger(__name__)
# The JSON format is a tar archive (manifest and bundles), or one bundle for a mint scope.
CONTENT_TYPES = {
    "tar": "application/x-tar",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "pdf": "application/pdf",
}
# A running job whose worker died is taken over once it is older than the task's time limit.
_STALE_GRACE = timedelta(seconds=60)


def reports_dir() -> Path:
    path = Path(settings.REPORTS_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_path(job: ReportJob) -> Path:
    return Path(settings.REPORTS_DIR) / job.file_name


def expire_if_due(job: ReportJob) -> ReportJob:
    """A done job past its expiry reads as expired from then on (its file goes with it)."""
    if job.state == ReportJob.DONE and job.expires_at is not None and job.expires_at <= timezone.now():
        if ReportJob.objects.filter(pk=job.pk, state=ReportJob.DONE).update(state=ReportJob.EXPIRED):
            _delete_file(job)
        job.refresh_from_db()
    return job


def submit(req: Request, fmt: str) -> tuple[ReportJob, bool]:
    """(job, created). Identical requests get the same live job."""
    key = req.key(fmt)
    for _ in range(3):
        existing = ReportJob.objects.filter(request_key=key, state__in=ReportJob.LIVE).first()
        if existing is not None:
            existing = expire_if_due(existing)
            if existing.state in ReportJob.LIVE:
                return existing, False
            continue
        try:
            with transaction.atomic():
                job = ReportJob.objects.create(request_key=key, request=req.as_dict(), format=fmt)
                transaction.on_commit(lambda job_id=str(job.pk): _send(job_id))
            return job, True
        except IntegrityError:
            continue  # an identical request won the race: reuse its job
    raise RuntimeError("could not create or find the report job")  # pragma: no cover - needs 3 lost races


def _send(job_id: str) -> None:
    from explorer.tasks import build_report

    build_report.delay(job_id)


def _claim(job_id: str) -> ReportJob | None:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.REPORTS_TIME_LIMIT_SECONDS) - _STALE_GRACE
    claimed = (
        ReportJob.objects.filter(pk=job_id, state=ReportJob.QUEUED).update(state=ReportJob.RUNNING, started_at=now)
        or ReportJob.objects.filter(pk=job_id, state=ReportJob.RUNNING, started_at__lt=stale).update(started_at=now)
    )
    return ReportJob.objects.get(pk=job_id) if claimed else None


def run(job_id: str) -> None:
    job = _claim(job_id)
    if job is None:
        return  # done, failed, or being built by another delivery
    part = reports_dir() / f"{job.pk}.part"
    def progress(done: int, total: int) -> None:
        ReportJob.objects.filter(pk=job.pk).update(progress_done=done, progress_total=total)

    try:
        req = make_request(**_request_args(job.request))
        with open(part, "wb") as out:
            summary = write_report(req, job.format, out, progress=progress, tmpdir=str(reports_dir()))
        name = f"{job.pk}.{extension(job.format, part)}"
        final = part.with_name(name)
        part.replace(final)
    except Exception as exc:
        part.unlink(missing_ok=True)
        reason = str(exc) if isinstance(exc, ReportRequestError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, ReportRequestError):
            log.exception("report job failed", extra={"job": str(job.pk)})
        ReportJob.objects.filter(pk=job.pk).update(state=ReportJob.FAILED, error=reason, finished_at=timezone.now())
        return
    digest = hashlib.sha256()
    with open(final, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    now = timezone.now()
    ReportJob.objects.filter(pk=job.pk).update(
        state=ReportJob.DONE,
        file_name=name,
        size=final.stat().st_size,
        sha256=digest.hexdigest(),
        positions=summary.positions.as_dict(),
        progress_done=summary.total,
        progress_total=summary.total,
        finished_at=now,
        expires_at=now + timedelta(seconds=settings.REPORTS_TTL_SECONDS),
    )


def extension(fmt: str, path: Path) -> str:
    if fmt != "json":
        return fmt
    with open(path, "rb") as f:
        return "tar" if archive.is_archive(f.read(archive.BLOCK)) else "json"


def _request_args(stored: dict) -> dict:
    args = dict(stored)
    return {"scope": args.pop("scope"), **args}


def _delete_file(job: ReportJob) -> None:
    if job.file_name:
        file_path(job).unlink(missing_ok=True)


def purge_expired() -> int:
    """Expire every done job past its time and delete its file; returns how many expired."""
    due = list(ReportJob.objects.filter(state=ReportJob.DONE, expires_at__lte=timezone.now()))
    for job in due:
        expire_if_due(job)
    return len(due)
