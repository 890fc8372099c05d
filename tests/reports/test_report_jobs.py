"""Report jobs through the API and the page buttons, with the real Celery worker (Redis broker,
no eager mode) building the files: 202 + Location, status with progress, 409/200/410 downloads,
reuse of identical requests, expiry, and the htmx progress fragment."""

from __future__ import annotations

import csv
import hashlib
import io
import time
from datetime import timedelta

import pytest

from explorer.models import ReportJob
from explorer.verify_report import verify_report
from tests.reports.conftest import TOKEN, load_story

pytestmark = pytest.mark.django_db(transaction=True)


def wait_done(client, location: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(location).json()
        if body["state"] not in ("queued", "running"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"report job still {body['state']}: {body}")
        time.sleep(0.3)


def test_a_report_job_from_post_to_download(celery_worker_process, client):
    # The worker process has its own environment (not this test's hemiBTC address), so this
    # test asks for the tunnel scope, which needs none, and checks the rows, not their verdicts.
    # tests/provenance_e2e/test_reports_devnet.py runs the token report on the devnet's worker.
    mint = load_story()
    response = client.post("/api/v1/reports", {"scope": "tunnel", "format": "csv"}, content_type="application/json")
    assert response.status_code == 202, response.content
    location = response["Location"]
    job_id = response.json()["id"]
    assert location == f"/api/v1/reports/{job_id}"
    assert response.json()["state"] == "queued"
    # An identical request reuses the job.
    again = client.post("/api/v1/reports", {"format": "csv", "scope": "tunnel"}, content_type="application/json")
    assert again.status_code == 202 and again.json()["id"] == job_id
    body = wait_done(client, location)
    assert body["state"] == "done", body
    assert body["progress_done"] == body["progress_total"] == 2
    assert body["expires_at"] and body["positions"]["hemi_block"] >= mint.block.number
    download = client.get(f"{location}/download")
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    assert download["Content-Type"].startswith("text/csv")
    assert download["Content-Disposition"] == 'attachment; filename="hemiscope-report-tunnel.csv"'
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert [(r["kind"], r["bitcoin_txid_display"]) for r in rows] == [
        ("mint", mint.deposit_txid_display),
        ("deposit", mint.deposit_txid_display),
    ]
    assert hashlib.sha256(content).hexdigest() == body["sha256"] == download["X-Report-SHA256"]


@pytest.fixture
def no_worker(monkeypatch):
    """Jobs built in this process only: a worker left running by an earlier test (session
    fixture) must not claim them with its own environment."""
    from explorer.reports import jobs

    monkeypatch.setattr(jobs, "_send", lambda job_id: None)


def test_json_reports_through_the_api_verify(devnet_addresses, client, settings, tmp_path, no_worker):
    from explorer.reports import jobs

    settings.REPORTS_DIR = tmp_path
    load_story()
    response = client.post("/api/v1/reports", {"scope": "token", "id": TOKEN, "format": "json"},
                           content_type="application/json")  # fmt: skip
    jobs.run(response.json()["id"])  # the worker's part, in this process (this test's settings)
    body = client.get(response["Location"]).json()
    assert body["state"] == "done", body
    download = client.get(f"{response['Location']}/download")
    assert download["Content-Type"] == "application/x-tar"
    assert download["Content-Disposition"] == f'attachment; filename="hemiscope-report-token-{TOKEN[:12]}.tar"'
    data = b"".join(download.streaming_content)
    assert verify_report(io.BytesIO(data)).ok
    assert list(tmp_path.iterdir()) == [tmp_path / f"{body['id']}.tar"]  # no .part or spool left


def test_download_is_409_while_queued_410_when_failed_or_expired(db, devnet_addresses, client, no_worker):
    # No worker here: the job stays queued.
    load_story()
    response = client.post("/api/v1/reports", {"scope": "tunnel", "format": "csv"}, content_type="application/json")
    job = ReportJob.objects.get(pk=response.json()["id"])
    queued = client.get(f"/api/v1/reports/{job.pk}/download")
    assert queued.status_code == 409 and queued.json()["status"] == 409 and "queued" in queued.json()["error"]

    ReportJob.objects.filter(pk=job.pk).update(state=ReportJob.FAILED, error="boom: the database went away")
    failed = client.get(f"/api/v1/reports/{job.pk}/download")
    assert failed.status_code == 410 and "boom" in failed.json()["error"]

    from django.utils import timezone

    ReportJob.objects.filter(pk=job.pk).update(
        state=ReportJob.DONE, file_name="gone.csv", expires_at=timezone.now() - timedelta(seconds=1)
    )
    expired = client.get(f"/api/v1/reports/{job.pk}/download")
    assert expired.status_code == 410 and "expired" in expired.json()["error"]
    assert client.get(f"/api/v1/reports/{job.pk}").json()["state"] == "expired"
    # An expired job is not reused: the same request queues a new one.
    fresh = client.post("/api/v1/reports", {"scope": "tunnel", "format": "csv"}, content_type="application/json")
    assert fresh.json()["id"] != str(job.pk) and fresh.json()["state"] == "queued"


def test_the_expiry_task_deletes_the_file(db, settings, tmp_path):
    from django.utils import timezone

    from explorer.reports import jobs

    settings.REPORTS_DIR = tmp_path
    (tmp_path / "old.csv").write_text("kind\n")
    job = ReportJob.objects.create(request_key="k" * 64, request={"scope": "tunnel"}, format="csv",
                                   state=ReportJob.DONE, file_name="old.csv",
                                   expires_at=timezone.now() - timedelta(minutes=1))  # fmt: skip
    assert jobs.purge_expired() == 1
    assert not (tmp_path / "old.csv").exists()
    job.refresh_from_db()
    assert job.state == ReportJob.EXPIRED


def test_bad_requests_are_400_naming_the_field(db, client):
    def post(body):
        return client.post("/api/v1/reports", body, content_type="application/json")

    for body, words in [
        ({"scope": "token", "format": "csv"}, "id"),
        ({"scope": "token", "id": TOKEN, "format": "docx"}, "format"),
        ({"scope": "blocks", "from": 9, "to": 3, "format": "csv"}, "from"),
        ({"scope": "tunnel", "format": "csv", "colour": "red"}, "colour"),
        ({"scope": "tunnel", "format": "csv", "at_hemi_block": "x"}, "at_hemi_block"),
        ([1, 2], "object"),
    ]:
        response = post(body)
        assert response.status_code == 400, (body, response.content)
        assert words in response.json()["error"] and response.json()["status"] == 400
    assert client.get("/api/v1/reports/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/api/v1/reports").status_code == 405


def test_the_pages_offer_the_report_buttons(devnet_addresses, client, db):
    mint = load_story()
    recipient = "0x" + bytes(mint.recipient).hex()
    for url, scope in [
        (f"/token/{TOKEN}", "token"),
        (f"/address/{recipient}", "address"),
        (f"/block/{mint.block.number}", "blocks"),
        ("/tunnel", "tunnel"),
    ]:
        page = client.get(url).content.decode()
        assert 'hx-post="/reports"' in page and f'name="scope" value="{scope}"' in page, url
        assert "<script>" not in page.split("</head>")[1]  # nothing inline (CSP)


def test_the_button_posts_and_shows_progress_then_the_download(
    devnet_addresses, client, db, settings, tmp_path, no_worker
):
    settings.REPORTS_DIR = tmp_path
    mint = load_story()
    n = mint.block.number
    form = {"scope": "blocks", "from": n, "to": n, "format": "pdf"}
    fragment = client.post("/reports", form, headers={"HX-Request": "true"})
    assert fragment.status_code == 202
    text = fragment.content.decode()
    job = ReportJob.objects.get()
    assert f'hx-get="/reports/{job.pk}"' in text and "every 2s" in text and "queued" in text
    # Without JavaScript: 303 to the progress page, which reuses the same job.
    plain = client.post("/reports", form)
    assert plain.status_code == 303 and plain["Location"] == f"/reports/{job.pk}"
    assert ReportJob.objects.count() == 1

    # The worker's part, run here in-process: the fragment then stops polling and links the file.
    from explorer.reports import jobs

    jobs.run(str(job.pk))
    done = client.get(f"/reports/{job.pk}", headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in done and f"/api/v1/reports/{job.pk}/download" in done
    page = client.get(f"/reports/{job.pk}").content.decode()
    assert "Report ready" in page
    pdf = client.get(f"/api/v1/reports/{job.pk}/download")
    assert b"".join(pdf.streaming_content).startswith(b"%PDF-")


def test_a_bad_button_post_is_a_named_400(db, client):
    response = client.post("/reports", {"scope": "blocks", "from": "x", "to": 1, "format": "csv"})
    assert response.status_code == 400 and "from must be a whole number" in response.content.decode()


def test_a_job_that_cannot_be_built_fails_with_its_reason_and_a_redelivery_does_nothing(
    devnet_addresses, client, db, settings, tmp_path, no_worker
):
    from explorer.reports import jobs

    settings.REPORTS_DIR = tmp_path
    load_story()
    other_token = "0x" + "ab" * 20
    response = client.post("/api/v1/reports", {"scope": "token", "id": other_token, "format": "csv"},
                           content_type="application/json")  # fmt: skip
    job_id = response.json()["id"]
    jobs.run(job_id)
    body = client.get(response["Location"]).json()
    assert body["state"] == "failed" and "not this network's hemiBTC" in body["error"]
    download = client.get(f"{response['Location']}/download")
    assert download.status_code == 410 and "not this network's hemiBTC" in download.json()["error"]
    assert list(tmp_path.iterdir()) == []  # the partial file is gone
    # A duplicate delivery of the task finds the job finished and changes nothing.
    jobs.run(job_id)
    assert ReportJob.objects.get(pk=job_id).state == ReportJob.FAILED
    # A failed job is not reused: asking again queues a new one.
    again = client.post("/api/v1/reports", {"scope": "token", "id": other_token, "format": "csv"},
                        content_type="application/json")  # fmt: skip
    assert again.json()["id"] != job_id
