"""Why a run waits, as the status API, the queue page and the run page say it: here, no worker is
running; and the job page names its state in plain words."""

from __future__ import annotations

from tests.webapi.conftest import Site

BASE = "/api/admin/blog/auto-generate"


async def test_a_run_without_a_live_worker_says_so_and_a_finished_page_says_nothing(site: Site) -> None:
    admin = site.headers["admin"]
    quiet = await site.client.get(f"{BASE}/status", headers=admin)
    assert quiet.json()["holdUps"] == []
    started = await site.client.post(
        BASE, json={"source": "popular", "mediaType": "movie", "count": 2, "model": "offline"}, headers=admin
    )
    assert started.status_code == 202, started.text
    status = (await site.client.get(f"{BASE}/status", headers=admin)).json()
    assert status["runs"][0]["state"] == "planning"
    assert status["holdUps"] == [
        {"kind": "no-worker", "message": "no worker is running: start one (blogworker) and the jobs begin",
         "seconds": None}
    ]  # fmt: skip
    page = await site.client.get("/admin/queue", headers=admin)
    assert "Waiting: no worker is running" in page.text
    assert ">waiting for a worker<" in page.text
    run_page = await site.client.get(f"/admin/blog/runs/{started.json()['runId']}", headers=admin)
    assert '<li data-kind="no-worker">Waiting: no worker is running' in run_page.text
    (job_id,) = started.json()["jobIds"]
    job_page = await site.client.get(f"/admin/queue/jobs/{job_id}", headers=admin)
    assert '<dd id="job-state" title="waiting">waiting for a worker</dd>' in job_page.text
