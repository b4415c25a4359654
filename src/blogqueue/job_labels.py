"""What a person recognises a job by: the title it writes (once known), its post, its run and the
email of its user, for a page of jobs in three database queries (ids from BullMQ, names from us)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue.jobqueue import JobSummary
from blogqueue.models import BlogPost, PostFailure, User


class JobLabel(msgspec.Struct, frozen=True):
    what: str  # "Dune (2021)", or "movie 900000025" before the title is known, or the job name
    run_id: int | None
    slug: str | None  # the post written, if any
    email: str


async def label_jobs(session: AsyncSession, jobs: Sequence[JobSummary]) -> dict[str, JobLabel]:
    ids = [job.id for job in jobs]
    user_ids = {int(job.user_id) for job in jobs if job.user_id and job.user_id.isdigit()}
    posts = await session.exec(
        select(BlogPost.job_id, BlogPost.title, BlogPost.slug).where(col(BlogPost.job_id).in_(ids))
    )
    written = {job_id: (title, slug) for job_id, title, slug in posts.all()}
    failed_rows = await session.exec(
        select(PostFailure.job_id, PostFailure.title).where(col(PostFailure.job_id).in_(ids))
    )
    failed = {job_id: title for job_id, title in failed_rows.all() if title}
    users = await session.exec(select(User.id, User.email).where(col(User.id).in_(user_ids)))
    emails = {str(user_id): email for user_id, email in users.all()}
    await session.commit()  # hand the connection back
    return {job.id: _label(job, written.get(job.id), failed.get(job.id), emails) for job in jobs}


def _label(
    job: JobSummary, post: tuple[str, str] | None, failed_title: str | None, emails: dict[str, str]
) -> JobLabel:
    data = job.data
    run_id = data.get("runId")
    if post is not None:
        what = post[0]
    elif failed_title:
        what = failed_title
    elif "tmdbId" in data:
        what = f"{data.get('mediaType', '')} {data['tmdbId']}"
    else:
        what = job.name + (f" (run {run_id})" if run_id else "")
    return JobLabel(
        what=what,
        run_id=run_id if isinstance(run_id, int) else None,
        slug=post[1] if post else None,
        email=emails.get(job.user_id or "", job.user_id or ""),
    )
