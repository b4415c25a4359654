"""The `generate-post` job: one title in, one stored blog post out.

Steps (each written to the job log): check the run and the title, resolve the user's key, fetch
the title's details, stream the post from the provider (progress at most twice a second), judge
it, save it with its cost. A truncated, refused or malformed answer gets one adjusted retry.
Handlers raise domain errors only; what a failure means for the job is decided in `failures.py`,
and `give_up` runs once the post has failed for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blogqueue import post_jobs, runs
from blogqueue.ai_settings import key_for
from blogqueue.errors import Cancelled, Conflict, InvalidInput, Postponed, Unavailable, UnusableAnswer
from blogqueue.models import CallOutcome, GenerationRun, PostFailure, PostStatus, RunStatus, utcnow
from blogqueue.payloads import GeneratePost
from blogqueue.post_jobs import NewPost, NewUsage, PostRef, RunCounts, RunRef
from blogqueue.providers import PROVIDERS
from blogqueue.registry import AiModel
from blogqueue.run_events import PostFailed, PostFailedData, PostSaved, PostSavedData, ProgressData, RunEvent
from blogqueue.titles import TitleDetails
from blogworker import failures, metrics
from blogworker.context import Draft, WorkerContext
from blogworker.envelope import parse_post
from blogworker.metrics import MeteredGenerator
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

MAX_POST_TOKENS = 4_096
TEMPERATURE = 0.7
DEFAULT_RATE_LIMIT_WAIT_S = 30.0


@dataclass
class PostDraft(Draft):
    """A draft of a post: what it is about, so a cut-short one can be kept as an incomplete post."""

    run: RunRef | None = None
    model: AiModel | None = None
    details: TitleDetails | None = None


async def write_post(ctx: WorkerContext, payload: GeneratePost) -> dict[str, Any]:
    svc = ctx.services
    if int(ctx.job.attemptsStarted or 0) <= 1:  # first start: it no longer waits in the user's queue
        ctx.reporter.left_queue(payload.user_id)
    run, existing, api_key = await _read(ctx, payload)
    if run.status == RunStatus.CANCELLED:
        raise Cancelled("the run was stopped")
    if existing is not None:
        if existing.job_id != ctx.job.id:
            raise Conflict(f"{payload.media_type} {payload.tmdb_id} already has a post ({existing.slug})")
        await ctx.reporter.log(f"already saved as {existing.slug}")
        return _summary(existing)
    model = svc.registry.require_usable(run.model)
    if (wait_s := await svc.cooldown.remaining_s(model.provider)) > 0:
        raise Postponed(f"{model.provider} is rate limiting; waiting for it", delay_s=wait_s)
    details = await _details(ctx, payload)
    about = f"writing about {details.title} ({details.year or 'year unknown'}) with {model.id}"
    generator = MeteredGenerator(svc.generators.get(model.provider, api_key))
    result, usage = await _generate_checked(ctx, run, model, details, generator, about)
    return await _save(ctx, run, model, details, result, usage)


async def _read(ctx: WorkerContext, payload: GeneratePost) -> tuple[RunRef, PostRef | None, str | None]:
    """All a post needs from the database, in one statement: its run, the title's post if one was
    written already, and the API key to write it with (None if the model needs none)."""
    svc = ctx.services
    run, existing, ciphertexts = await svc.connections.run(
        post_jobs.read, payload.run_id, payload.media_type, payload.tmdb_id
    )
    if run.status == RunStatus.CANCELLED or existing is not None:
        return run, existing, None
    provider = svc.registry.require_usable(run.model).provider
    if not PROVIDERS[provider].needs_key:
        return run, None, None
    key = key_for(svc.cipher, ctx.settings, run.user_id, provider, ciphertexts.get(provider))
    if key is None:
        raise InvalidInput(
            f"no API key for {provider}: add one under AI settings, "
            f"or set {PROVIDERS[provider].key_env} on the server"
        )
    return run, None, key


async def _details(ctx: WorkerContext, payload: GeneratePost) -> TitleDetails:
    try:
        return await ctx.services.catalog.details(payload.media_type, payload.tmdb_id)
    except Unavailable as err:
        if err.retry_after_s:
            raise Postponed(f"TMDb asked us to slow down: {err}", delay_s=err.retry_after_s) from err
        raise


async def _generate_checked(
    ctx: WorkerContext, run: RunRef, model: AiModel, details: TitleDetails, generator: TextGenerator,
    about: str,
) -> tuple[GenerationResult, NewUsage | None]:  # fmt: skip
    """A usable answer and the usage record of the call that gave it, still to be charged (with the
    post, in one transaction); a call whose answer is not used is charged at once."""
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
        lines = [about] if try_number == 1 else []
        lines.append(f"prompt built ({len(prompt)} characters); calling {model.provider}")
        ctx.reporter.note(*lines)
        draft = ctx.draft = PostDraft(ctx, run=run, model=model, details=details, title=details.title)
        try:
            result = await draft.stream(generator.generate(request, draft.on_text))
        except ProviderError as err:
            draft.cut_short = True
            await _charge(ctx, run, model, err.usage, CallOutcome.FAILED)
            await ctx.reporter.log(f"{model.provider} failed ({err.kind}): {err.message}")
            if err.kind is FailureKind.RATE_LIMIT:
                wait = err.retry_after_s or DEFAULT_RATE_LIMIT_WAIT_S
                await ctx.services.cooldown.start(model.provider, wait)
                raise Postponed(f"{model.provider} rate limit", delay_s=wait) from err
            raise
        except Cancelled:
            draft.cut_short = True
            raise
        answered = (
            f"{model.provider} answered: {result.usage.input_tokens} tokens in, "
            f"{result.usage.output_tokens} out, finish {result.finish}"
        )
        problem = _problem(result, details)
        if not problem:
            ctx.reporter.note(answered)
            return result, _usage_record(ctx, run, model, result.usage, CallOutcome.OK)
        await _charge(ctx, run, model, result.usage, CallOutcome.OK)
        reason = "length" if result.finish is FinishReason.LENGTH else "other"
        retrying = "; trying once more, adjusted" if try_number == 1 else ""
        ctx.reporter.note(answered, f"answer rejected: {problem}{retrying}")
    raise UnusableAnswer(f"no usable post after an adjusted retry: {problem}")


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


def _usage_record(
    ctx: WorkerContext, run: RunRef, model: AiModel, usage: Usage | None, outcome: CallOutcome
) -> NewUsage | None:
    if usage is None or not (usage.input_tokens or usage.output_tokens):
        return None
    cost = ctx.services.registry.estimate_cost_usd(model.id, usage.input_tokens, usage.output_tokens)
    return NewUsage(user_id=run.user_id, run_id=run.id, job_id=str(ctx.job.id), model=model.id,
                    provider=model.provider, tokens_in=usage.input_tokens, tokens_out=usage.output_tokens,
                    cost_usd=cost, outcome=outcome)  # fmt: skip


async def _charge(
    ctx: WorkerContext, run: RunRef, model: AiModel, usage: Usage | None, outcome: CallOutcome
) -> None:
    """Charge a call whose answer is not saved (failed, or rejected) on its own."""
    if (record := _usage_record(ctx, run, model, usage, outcome)) is None:
        return
    async with ctx.services.writes:
        counts = await ctx.services.connections.run(post_jobs.charge, record)
    metrics.charged(record)
    if stopped := await _stop_if_over_budget(ctx, run.id, counts):
        await ctx.reporter.log(stopped)


async def _save(
    ctx: WorkerContext, run: RunRef, model: AiModel, details: TitleDetails, result: GenerationResult,
    usage: NewUsage | None,
) -> dict[str, Any]:  # fmt: skip
    """Store the post, charge its call and count it, in one transaction; then stop the run if that
    spent its budget, or finish it if that was its last post."""
    envelope, body = parse_post(result.text)
    post = post_jobs.draft_for(run, details, model=model.id, provider=model.provider, job_id=str(ctx.job.id))
    post.title, post.excerpt, post.body, post.tags = envelope.title, envelope.excerpt, body, envelope.tags[:8]
    if ctx.settings.auto_publish:
        post.status, post.published_at = PostStatus.PUBLISHED, utcnow()
    async with ctx.services.writes:
        counts = await ctx.services.connections.run(post_jobs.save_post, post, usage)
    stopped = await _stop_if_over_budget(ctx, run.id, counts) if usage else ""
    finished = await _finish_if_done(ctx, run.id, counts)
    if usage is not None:
        metrics.charged(usage)
    if post.status == PostStatus.PUBLISHED:
        await ctx.services.job_queue.blog_changed()
    saved = PostSavedData(slug=post.slug, tmdb_id=post.tmdb_id, tokens_in=post.tokens_in,
                          tokens_out=post.tokens_out, cost_usd=post.cost_usd)  # fmt: skip
    events: list[RunEvent] = [PostSaved(run_id=run.id, user_id=str(run.user_id), job_id=str(ctx.job.id),
                                        message=post.title, data=saved)]  # fmt: skip
    if finished is not None:
        events.append(runs.finished_event(finished))
    line = f"saved as {post.slug} ({post.tokens_in}+{post.tokens_out} tokens, ${post.cost_usd:.4f})"
    progress = ProgressData(stage="saved", chars=len(body), title=details.title)
    await ctx.reporter.report(*filter(None, [stopped, line]), progress=progress, events=tuple(events))
    return _summary(post)


async def _stop_if_over_budget(ctx: WorkerContext, run_id: int, counts: RunCounts | None) -> str:
    """Stop the run if the transaction that left `counts` spent its budget; returns why, or ""."""
    if counts is None or not counts.over_budget:
        return ""
    async with ctx.services.writes, ctx.services.sessions() as session:
        return await runs.stop_if_over_budget(session, ctx.services.job_queue, run_id)


async def _finish_if_done(ctx: WorkerContext, run_id: int, counts: RunCounts | None) -> GenerationRun | None:
    """Finish the run if the transaction that left `counts` counted its last post."""
    if counts is None or not counts.all_done:
        return None
    async with ctx.services.writes, ctx.services.sessions() as session:
        return await runs.finish_if_done(session, run_id)


async def _keep_incomplete(ctx: WorkerContext, draft: PostDraft) -> None:
    """Keep what was written of a post that was cut short, as an incomplete draft."""
    text = draft.text
    if not text.strip() or draft.run is None or draft.model is None or draft.details is None:
        return
    model = draft.model
    post = post_jobs.draft_for(
        draft.run, draft.details, model=model.id, provider=model.provider, job_id=str(ctx.job.id)
    )
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
    try:
        async with ctx.services.writes:
            await ctx.services.connections.run(post_jobs.save_post, post)
    except Conflict:
        return
    await ctx.services.job_queue.posts_changed()
    await ctx.reporter.log(f"kept {len(text)} characters as incomplete draft {post.slug}")


async def give_up(ctx: WorkerContext, payload: GeneratePost, err: Exception) -> None:
    """The post failed for good: keep a cut-short draft, count the failure, free the title, and
    finish the run if it was the last."""
    if isinstance(ctx.draft, PostDraft) and ctx.draft.cut_short:
        await _keep_incomplete(ctx, ctx.draft)
    message = failures.reason(err)
    await ctx.reporter.log(f"giving up: {message}")
    details = ctx.draft.details if isinstance(ctx.draft, PostDraft) else None
    failure = PostFailure(
        run_id=payload.run_id,
        job_id=str(ctx.job.id),
        media_type=payload.media_type,
        tmdb_id=payload.tmdb_id,
        title=details.title if details else "",
        reason=message,
    )
    async with ctx.services.sessions() as session:
        await runs.post_failed(session, failure)
        finished = await runs.finish_if_done(session, payload.run_id)
    data = PostFailedData(tmdb_id=payload.tmdb_id, media_type=payload.media_type)
    await ctx.publish(PostFailed(run_id=payload.run_id, user_id=payload.user_id, job_id=str(ctx.job.id),
                                 message=message, data=data))  # fmt: skip
    if finished is not None:
        await ctx.publish(runs.finished_event(finished))


def _summary(post: NewPost | PostRef) -> dict[str, Any]:
    return {
        "postId": post.id,
        "slug": post.slug,
        "tokensIn": post.tokens_in,
        "tokensOut": post.tokens_out,
        "costUsd": post.cost_usd,
        "incomplete": post.incomplete,
    }
