"""The `generate-post` job: one title in, one stored blog post out.

Steps (each written to the job log): check the run and the title, resolve the user's key, fetch
the title's details, stream the post from the provider (progress at most twice a second, partial
text kept), judge it, save it with its cost. A truncated, refused or malformed answer gets one
adjusted retry. What a failure means for the job is decided in `failures.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from bullmq import UnrecoverableError
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import posts, runs
from blogqueue.ai_settings import resolve_key
from blogqueue.control import stop_run
from blogqueue.errors import Conflict, InvalidInput, Unavailable
from blogqueue.models import BlogPost, GenerationRun, PostStatus, RunStatus, UsageRecord, utcnow
from blogqueue.payloads import GeneratePost, decode_payload
from blogqueue.providers import PROVIDERS
from blogqueue.registry import AiModel
from blogqueue.titles import MediaType, TitleDetails
from blogworker.context import SHUTDOWN_REASON, JobCancelled, WorkerContext
from blogworker.envelope import parse_post
from blogworker.failures import classify, is_final
from blogworker.prompts import SYSTEM, adjusted_prompt, build_prompt
from blogworker.providers.base import (
    FailureKind,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    ProviderError,
    TextGenerator,
    Usage,
)
from blogworker.quality import QualityError, check_post

PROGRESS_INTERVAL_S = 0.5  # at most two progress updates a second while streaming
MAX_POST_TOKENS = 4_096
TEMPERATURE = 0.7
DEFAULT_RATE_LIMIT_WAIT_S = 30.0


class Draft:
    """The text streamed so far, reported as throttled progress."""

    def __init__(self, ctx: WorkerContext) -> None:
        self._ctx = ctx
        self._parts: list[str] = []
        self._chars = 0
        self._last_report = 0.0

    @property
    def text(self) -> str:
        return "".join(self._parts)

    async def on_text(self, delta: str) -> None:
        self._parts.append(delta)
        self._chars += len(delta)
        now = time.monotonic()
        if now - self._last_report >= PROGRESS_INTERVAL_S:
            self._last_report = now
            await self._ctx.reporter.progress({"stage": "writing", "chars": self._chars})


async def write_post(ctx: WorkerContext) -> dict[str, Any]:
    payload = decode_payload(ctx.job.data, GeneratePost)
    ctx.report_for_run(payload.run_id, payload.user_id)
    if int(ctx.job.attemptsStarted or 0) <= 1:  # first start: it no longer waits in the user's queue
        await _left_queue(ctx, payload.user_id)
    try:
        return await _write(ctx, payload)
    except Exception as err:
        if is_final(err, ctx.attempt, ctx.attempts):
            await _give_up(ctx, payload, classify(err))
        raise


async def _write(ctx: WorkerContext, payload: GeneratePost) -> dict[str, Any]:
    svc = ctx.svc
    async with svc.sessions() as session:
        run = await runs.get_run(session, payload.run_id)
        existing = await posts.find_post(session, payload.media_type, payload.tmdb_id)
    if run.status == RunStatus.CANCELLED:
        raise JobCancelled("the run was stopped")
    if existing is not None:
        if existing.job_id != ctx.job.id:
            raise UnrecoverableError(
                f"{payload.media_type} {payload.tmdb_id} already has a post ({existing.slug})"
            )
        await ctx.reporter.log(f"already saved as {existing.slug}")
        return _summary(existing)
    model = svc.registry.require_usable(run.model)
    api_key = await _api_key(ctx, model, int(payload.user_id))
    await _respect_cooldown(ctx, model.provider)
    details = await _details(ctx, payload)
    await ctx.reporter.log(
        f"writing about {details.title} ({details.year or 'year unknown'}) with {model.id}"
    )
    result = await _generate_checked(ctx, run, model, details, svc.generators.get(model.provider, api_key))
    return await _save(ctx, run, model, details, result)


async def _left_queue(ctx: WorkerContext, user_id: str) -> None:
    redis, key = ctx.svc.job_queue.redis, ctx.svc.job_queue.keys.queued_posts(user_id)
    if await redis.decr(key) < 0:
        await redis.set(key, 0)


async def _api_key(ctx: WorkerContext, model: AiModel, user_id: int) -> str | None:
    if not PROVIDERS[model.provider].needs_key:
        return None
    async with ctx.svc.sessions() as session:
        key = await resolve_key(session, ctx.svc.cipher, ctx.settings, user_id, model.provider)
    if key is None:
        raise UnrecoverableError(
            f"no API key for {model.provider}: add one under AI settings, "
            f"or set {PROVIDERS[model.provider].key_env} on the server"
        )
    return key


async def _details(ctx: WorkerContext, payload: GeneratePost) -> TitleDetails:
    try:
        return await ctx.svc.catalog.details(MediaType(payload.media_type), payload.tmdb_id)
    except Unavailable as err:
        if err.retry_after_s:
            await ctx.delay(err.retry_after_s, f"TMDb asked us to slow down: {err}")
        raise


def _cooldown_key(ctx: WorkerContext, provider: str) -> str:
    return f"blogqueue:{ctx.settings.queue_prefix}:cooldown:{provider}"


async def _respect_cooldown(ctx: WorkerContext, provider: str) -> None:
    """While a provider is rate limiting us, other jobs for it wait instead of adding to the pile."""
    remaining_ms = await ctx.svc.job_queue.redis.pttl(_cooldown_key(ctx, provider))
    if remaining_ms > 0:
        await ctx.delay(remaining_ms / 1000, f"{provider} is rate limiting; waiting for it")


async def _cool_down(ctx: WorkerContext, provider: str, seconds: float) -> None:
    redis, key, ms = ctx.svc.job_queue.redis, _cooldown_key(ctx, provider), max(1, int(seconds * 1000))
    await redis.set(key, "1", px=ms, nx=True)
    await redis.pexpire(key, ms, gt=True)


async def _stream(
    ctx: WorkerContext, generator: TextGenerator, request: GenerationRequest, draft: Draft
) -> GenerationResult:
    """Run the provider call, aborting it at once if the job is cancelled."""
    call = asyncio.create_task(generator.generate(request, draft.on_text))
    if ctx.signal is None:
        return await call
    stop = asyncio.create_task(ctx.signal.wait())
    await asyncio.wait({call, stop}, return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    if call.done():
        return call.result()
    call.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await call
    raise JobCancelled(ctx.signal.reason or "cancelled")


async def _generate_checked(
    ctx: WorkerContext, run: GenerationRun, model: AiModel, details: TitleDetails, generator: TextGenerator
) -> GenerationResult:
    reason = problem = ""
    for try_number in (1, 2):
        prompt = adjusted_prompt(details, reason) if reason else build_prompt(details)
        request = GenerationRequest(
            model=model,
            system=SYSTEM,
            prompt=prompt,
            facts=details,
            max_output_tokens=min(model.max_output_tokens, MAX_POST_TOKENS),
            temperature=TEMPERATURE,
        )
        await ctx.reporter.log(f"prompt built ({len(prompt)} characters); calling {model.provider}")
        draft = Draft(ctx)
        try:
            result = await _stream(ctx, generator, request, draft)
        except ProviderError as err:
            await _record_usage(ctx, run, model, err.usage, "failed")
            await _provider_failed(ctx, run, model, details, err, draft)
            raise
        except JobCancelled as err:
            if str(err) != SHUTDOWN_REASON:
                await _save_incomplete(ctx, run, model, details, draft.text)
            raise
        await _record_usage(ctx, run, model, result.usage, "ok")
        await ctx.reporter.log(
            f"{model.provider} answered: {result.usage.input_tokens} tokens in, "
            f"{result.usage.output_tokens} out, finish {result.finish}"
        )
        problem = _problem(result, details)
        if not problem:
            return result
        reason = "length" if result.finish is FinishReason.LENGTH else "other"
        await ctx.reporter.log(
            f"answer rejected: {problem}" + ("; trying once more, adjusted" if try_number == 1 else "")
        )
    raise UnrecoverableError(f"no usable post after an adjusted retry: {problem}")


def _problem(result: GenerationResult, details: TitleDetails) -> str:
    if result.finish is FinishReason.LENGTH:
        return "the answer was cut off at the output token limit"
    if result.finish in (FinishReason.SAFETY, FinishReason.REFUSAL):
        return f"the provider declined ({result.finish})"
    try:
        envelope, body = parse_post(result.text)
        check_post(envelope, body, details)
    except (InvalidInput, QualityError) as err:
        return str(err)
    return ""


async def _provider_failed(
    ctx: WorkerContext,
    run: GenerationRun,
    model: AiModel,
    details: TitleDetails,
    err: ProviderError,
    draft: Draft,
) -> None:
    await ctx.reporter.log(f"{model.provider} failed ({err.kind}): {err.message}")
    if err.kind is FailureKind.RATE_LIMIT:
        wait = err.retry_after_s or DEFAULT_RATE_LIMIT_WAIT_S
        await _cool_down(ctx, model.provider, wait)
        await ctx.delay(wait, f"{model.provider} rate limit")
    if draft.text and is_final(err, ctx.attempt, ctx.attempts):
        await _save_incomplete(ctx, run, model, details, draft.text)


async def _record_usage(
    ctx: WorkerContext, run: GenerationRun, model: AiModel, usage: Usage | None, outcome: str
) -> None:
    if usage is None or not (usage.input_tokens or usage.output_tokens):
        return
    cost = ctx.svc.registry.estimate_cost_usd(model.id, usage.input_tokens, usage.output_tokens)
    async with ctx.svc.sessions() as session:
        await posts.record_usage(
            session,
            UsageRecord(
                user_id=run.user_id,
                run_id=run.id,
                job_id=str(ctx.job.id),
                model=model.id,
                provider=model.provider,
                tokens_in=usage.input_tokens,
                tokens_out=usage.output_tokens,
                cost_usd=cost,
                outcome=outcome,
            ),
        )
        if run.budget_usd is None:
            return
        run_now = await runs.get_run(session, run.id or 0)
        await session.refresh(run_now)
        if run_now.budget_usd is not None and run_now.cost_usd >= run_now.budget_usd:
            reason = f"budget reached: ${run_now.cost_usd:.4f} of ${run_now.budget_usd:.4f} spent"
            await ctx.reporter.log(reason)
            await stop_run(session, ctx.svc.job_queue, run_now, reason)


async def _new_post(
    session: AsyncSession, ctx: WorkerContext, run: GenerationRun, model: AiModel, details: TitleDetails
) -> BlogPost:
    tokens_in, tokens_out, cost = await posts.job_usage(session, str(ctx.job.id))
    year = f" {details.year}" if details.year else ""
    return BlogPost(
        slug=posts.slugify(f"{details.title}{year}"),
        title=f"{details.title}{year}",
        excerpt="",
        body="",
        tmdb_id=details.tmdb_id,
        media_type=details.media_type.value,
        poster_url=details.poster_url,
        source=run.source,
        model=model.id,
        provider=model.provider,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost_usd=cost,
        user_id=run.user_id,
        run_id=run.id,
        job_id=str(ctx.job.id),
    )


async def _save(
    ctx: WorkerContext, run: GenerationRun, model: AiModel, details: TitleDetails, result: GenerationResult
) -> dict[str, Any]:
    envelope, body = parse_post(result.text)
    async with ctx.svc.sessions() as session:
        post = await _new_post(session, ctx, run, model, details)
        post.title, post.excerpt, post.body, post.tags = (
            envelope.title,
            envelope.excerpt,
            body,
            envelope.tags[:8],
        )
        if ctx.settings.auto_publish:
            post.status, post.published_at = PostStatus.PUBLISHED.value, utcnow()
        try:
            post = await posts.save_post(session, post)
        except Conflict as err:
            raise UnrecoverableError(str(err)) from err
        finished = await runs.finish_if_done(session, post.run_id or 0)
    await ctx.reporter.log(
        f"saved as {post.slug} ({post.tokens_in}+{post.tokens_out} tokens, ${post.cost_usd:.4f})"
    )
    await ctx.reporter.progress({"stage": "saved", "chars": len(body)})
    await ctx.publish("post-saved", post.title, slug=post.slug, tmdbId=post.tmdb_id, tokensIn=post.tokens_in,
                      tokensOut=post.tokens_out, costUsd=post.cost_usd)  # fmt: skip
    await _announce_if_finished(ctx, finished)
    return _summary(post)


async def _save_incomplete(
    ctx: WorkerContext, run: GenerationRun, model: AiModel, details: TitleDetails, text: str
) -> None:
    """Keep what was written of a post that was cut short, as an incomplete draft."""
    if not text.strip():
        return
    async with ctx.svc.sessions() as session:
        post = await _new_post(session, ctx, run, model, details)
    try:
        envelope, body = parse_post(text)
        post.title, post.excerpt, post.body, post.tags = (
            envelope.title,
            envelope.excerpt,
            body,
            envelope.tags[:8],
        )
    except InvalidInput:
        post.body = text
    post.incomplete = True
    async with ctx.svc.sessions() as session:
        with contextlib.suppress(Conflict):
            post = await posts.save_post(session, post)
            await ctx.reporter.log(f"kept {len(text)} characters as incomplete draft {post.slug}")


async def _give_up(ctx: WorkerContext, payload: GeneratePost, err: Exception) -> None:
    """The post failed for good: count it, free the title, and finish the run if it was the last."""
    await ctx.reporter.log(f"giving up: {err}")
    async with ctx.svc.sessions() as session:
        await runs.bump(session, payload.run_id, posts_failed=1)
        await runs.release(session, payload.media_type, payload.tmdb_id)
        await session.commit()
        finished = await runs.finish_if_done(session, payload.run_id)
    await ctx.publish("post-failed", str(err), tmdbId=payload.tmdb_id, mediaType=payload.media_type)
    await _announce_if_finished(ctx, finished)


async def _announce_if_finished(ctx: WorkerContext, run: GenerationRun) -> None:
    if run.status == RunStatus.COMPLETED and run.finished_at is not None:
        await ctx.publish("run-finished", run.message, status=run.status, postsDone=run.posts_done,
                          postsFailed=run.posts_failed, costUsd=run.cost_usd)  # fmt: skip


def _summary(post: BlogPost) -> dict[str, Any]:
    return {
        "postId": post.id,
        "slug": post.slug,
        "tokensIn": post.tokens_in,
        "tokensOut": post.tokens_out,
        "costUsd": post.cost_usd,
        "incomplete": post.incomplete,
    }
