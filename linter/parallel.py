"""Checking many files: the result cache first, then the misses in-process or in a process pool.

`check_files(files, settings, mode, jobs, use_cache)` returns one `runner.FileOutcome` per file,
in the order of `files`, whatever the number of jobs. Every file goes through the one per-file
pipeline, `runner.check_file`, here or in a worker; a file is read once: the bytes read to look
up the cache are the bytes checked (and sent to the worker that checks them). The pool is used only when it pays: more
than MIN_FILES_FOR_POOL files left after the cache and `jobs > 1` (default: the CPUs this
process may use). A pre-commit hook that passes a handful of files stays in-process and starts
no workers.

Workers are forked once with the resolved settings (nothing is re-read per file), take chunks
of files, largest files first so that the longest parse does not come last, and write their
own cache entries. Nothing a worker does can stop the run: an exception escaping the per-file
guard or a result that cannot be sent back is retried file by file and ends as that file's
`EPL000 internal-error`; a worker that dies (a crash in native code, the OOM killer) breaks
the pool, and the files it left unfinished are rechecked one at a time in a fresh worker, so
the one that kills it is reported (`EPL000 internal-error`) and every other file is checked.
If no pool can be started at all (no /dev/shm, no fork), or its workers cannot even start,
the files are checked in-process.
"""
from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING, Iterable, Optional, Sequence

from linter import limits, runner
from linter.config import Settings
from linter.project.plan import plan
from linter.runner import FileOutcome, FixMode, internal_error

if TYPE_CHECKING:  # imported when a pool is started: a few files never pay for them
    from concurrent.futures import ProcessPoolExecutor

    from linter.cache import Cache  # imported when the cache is used (not under --no-cache)

MIN_FILES_FOR_POOL = 9  # below this, forking and sending results back costs more than it saves
CHUNKS_PER_JOB = 8  # chunks per worker: small enough to balance, big enough to amortise
MAX_CHUNK_FILES = 64


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_files(
    files: Iterable[str],
    settings: Settings,
    mode: FixMode = FixMode(),
    jobs: Optional[int] = None,
    use_cache: bool = True,
) -> list[FileOutcome]:
    files = list(files)
    jobs = default_jobs() if jobs is None else max(1, jobs)
    cache = _open_cache(settings) if use_cache and not mode.active else None
    outcomes: list[Optional[FileOutcome]] = [None] * len(files)
    data: dict[int, bytes] = {}  # bytes of the files checked, read on a miss (checked as they are)
    project = plan(files, data, settings, cache, lazy=True)  # the index reads what the cache's stat index does not know
    for wave in project.waves():  # modules before the modules that import them
        todo: list[int] = []
        views: dict[int, object] = {}
        for node in wave:
            indices = project.indices(node)
            if not indices:
                continue  # a module imported but not checked: summarised when an importer needs it
            wanted = project.wanted_by(node)
            deps = project.deps_key(node, wanted)
            misses = []
            for i in indices:  # a hit needs no summary: its key (node.skey) covers its imports'
                if cache is not None and node.digest is not None:  # (the digest of its bytes: maybe not read)
                    hit = cache.load(files[i], None, settings.enabled_codes(files[i]), deps, digest=node.digest)
                    if hit is not None:
                        outcomes[i] = FileOutcome(*hit)
                        continue
                if node.data is not None:  # the bytes the digest is of (None: unreadable, or changed since)
                    data[i] = node.data
                misses.append(i)
            if misses:
                project.ensure(project.graph.visible_deps(node))
                want = node.needed and not project.cached_summary(node)
                for i in misses:
                    views[i] = project.view(node, want and i == misses[0], wanted, deps)
                    todo.append(i)
        _check_group(files, todo, views, data, outcomes, settings, mode, cache, jobs)
        for i in todo:
            if views[i].want_summary:
                project.record(project.graph.nodes[os.path.abspath(files[i])], outcomes[i].result.summary)
        for node in wave:
            project.record_links(node, [outcomes[i] for i in project.indices(node)])
    _check_again_with_callers(files, project, data, outcomes, settings, mode, cache, jobs)
    return outcomes  # type: ignore[return-value]


def _check_group(files: list, todo: list, views: dict, data: dict, outcomes: list, settings: Settings, mode: FixMode, cache, jobs: int) -> None:
    """Check the files `todo` (indices, each with its ProjectView), in a pool when it pays."""
    if jobs > 1 and len(todo) >= MIN_FILES_FOR_POOL:
        done = _run_pool(files, todo, data, settings, mode, cache, jobs, views)
    else:
        done = {}
    for i in todo:
        outcomes[i] = done[i] if i in done else runner.check_file(files[i], settings, mode, cache, data.get(i), views[i])


def _check_again_with_callers(files: list, project, data: dict, outcomes: list, settings: Settings, mode: FixMode, cache, jobs: int) -> None:
    """A module whose functions' parameters a rule asked about, and that other modules of the run
    call, is checked again knowing those calls (linter.project.links); its first result stands
    when the cache has the second one or nothing changes."""
    todo: list[int] = []
    views: dict[int, object] = {}
    first: dict[int, FileOutcome] = {}
    for node, digest, found, wanted in project.with_callers():
        view = None
        for i in project.indices(node):
            if cache is not None and node.digest is not None:
                hit = cache.load(files[i], None, settings.enabled_codes(files[i]), digest, "callers", digest=node.digest)
                if hit is not None:
                    outcomes[i] = FileOutcome(*hit)
                    continue
            if i not in data and node.data is not None:
                data[i] = node.data
            view = view or project.second_view(node, digest, found, wanted)
            views[i] = view
            first[i] = outcomes[i]
            todo.append(i)
    if not todo:
        return
    if mode.fix and not mode.diff:  # the first check wrote its fixes: check what is there now
        _check_group(files, todo, views, {}, outcomes, settings, mode, cache, jobs)
        for i in todo:
            outcomes[i].fixed += first[i].fixed
    else:
        _check_group(files, todo, views, data, outcomes, settings, mode, cache, jobs)


def _open_cache(settings: Settings) -> Optional[Cache]:
    from linter.cache import Cache

    try:
        return Cache.for_settings(settings)
    except Exception:  # an unreadable package folder, say: run without the cache
        return None


# --------------------------------------------------------------------------- workers
_WORKER: dict = {}


def _init_worker(settings: Settings, mode: FixMode, cache: Optional[Cache]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    limits.die_with_parent()  # a CI timeout's SIGKILL of the parent must not leave us parsing on
    _WORKER.update(settings=settings, mode=mode, cache=cache)


def _check_chunk(chunk: Sequence[tuple]) -> list[tuple[int, FileOutcome]]:
    settings, mode, cache = _WORKER["settings"], _WORKER["mode"], _WORKER["cache"]
    return [(i, runner.check_file(path, settings, mode, cache, data, view)) for i, path, data, view in chunk]


def _mp_context():
    import multiprocessing

    # fork: workers start in milliseconds with everything imported; elsewhere the default
    # (spawn) re-imports the linter in each worker.
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _chunks(files: list[str], todo: list[int], jobs: int, data: Optional[dict] = None, views: Optional[dict] = None) -> list[list[tuple]]:
    """Largest files first; small files grouped so that there are about CHUNKS_PER_JOB
    chunks per worker of similar size. Each item is (index, path, bytes already read or None,
    the file's ProjectView or None)."""
    data = data or {}
    views = views or {}
    sizes = {}
    for i in todo:
        if i in data:
            sizes[i] = len(data[i])
            continue
        try:
            sizes[i] = os.stat(files[i]).st_size
        except OSError:
            sizes[i] = 0
    order = sorted(todo, key=lambda i: -sizes[i])
    target = max(1, sum(sizes.values()) // (jobs * CHUNKS_PER_JOB))
    chunks: list[list[tuple]] = []
    current: list[tuple] = []
    weight = 0
    for i in order:
        current.append((i, files[i], data.get(i), views.get(i)))
        weight += sizes[i]
        if weight >= target or len(current) >= MAX_CHUNK_FILES:
            chunks.append(current)
            current, weight = [], 0
    if current:
        chunks.append(current)
    return chunks


def _new_pool(workers: int, settings: Settings, mode: FixMode, cache: Optional[Cache]) -> "ProcessPoolExecutor":
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context(), initializer=_init_worker, initargs=(settings, mode, cache))


def _run_pool(files: list[str], todo: list[int], data: dict[int, bytes], settings: Settings, mode: FixMode, cache: Optional[Cache], jobs: int, views: Optional[dict] = None) -> dict[int, FileOutcome]:
    """Outcomes by index for the files the pool could check; the caller checks the rest."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    chunks = _chunks(files, todo, jobs, data, views)
    done: dict[int, FileOutcome] = {}
    try:
        pool = _new_pool(min(jobs, len(chunks)), settings, mode, cache)
    except (OSError, ImportError, ValueError, NotImplementedError):
        return done  # no pool on this system: in-process
    retry: list[tuple] = []  # a chunk failed: check its files one by one
    orphans: list[tuple] = []  # the pool broke: check them one by one, isolated
    worked = False  # did any chunk come back?
    try:
        try:
            futures = {pool.submit(_check_chunk, chunk): chunk for chunk in chunks}
        except (OSError, RuntimeError, BrokenProcessPool):
            pool.shutdown(wait=False, cancel_futures=True)
            return done
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                chunk = futures[future]
                try:
                    done.update(future.result())
                    worked = True
                except BrokenProcessPool:
                    orphans.extend(chunk)
                except Exception:  # the chunk's result could not be sent back, or worse
                    retry.extend(chunk)
        if retry and not orphans:
            singles = {pool.submit(_check_chunk, [item]): item for item in retry}
            for future, item in singles.items():
                i, path = item[0], item[1]
                try:
                    done.update(future.result())
                except BrokenProcessPool:
                    orphans.append(item)
                except Exception as exc:
                    done[i] = _failed(path, settings, exc)
        elif retry:
            orphans.extend(retry)
    except KeyboardInterrupt:
        _terminate(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if orphans and (worked or _pool_works(settings, mode, cache)):
        done.update(_isolate(sorted(orphans, key=lambda item: item[0]), settings, mode, cache))
    return done  # (a pool that cannot run even an empty task: the caller checks in-process)


def _pool_works(settings: Settings, mode: FixMode, cache: Optional[Cache]) -> bool:
    """Can a fresh worker start and answer at all? (If not, no file is to blame.)"""
    try:
        pool = _new_pool(1, settings, mode, cache)
    except (OSError, ImportError, ValueError, NotImplementedError):
        return False
    try:
        return pool.submit(_check_chunk, []).result() == []
    except Exception:
        return False
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _isolate(items: list[tuple], settings: Settings, mode: FixMode, cache: Optional[Cache]) -> dict[int, FileOutcome]:
    """After a worker died: one file at a time in a one-worker pool, replaced when it dies."""
    from concurrent.futures.process import BrokenProcessPool

    done: dict[int, FileOutcome] = {}
    pool: Optional["ProcessPoolExecutor"] = None
    try:
        for item in items:
            i, path = item[0], item[1]
            if pool is None:
                try:
                    pool = _new_pool(1, settings, mode, cache)
                except (OSError, ImportError, ValueError, NotImplementedError):
                    break  # the caller checks what is left in-process
            try:
                done.update(pool.submit(_check_chunk, [item]).result())
            except BrokenProcessPool:
                enabled = settings.enabled_codes(path)
                done[i] = internal_error(path, enabled, "the worker process checking it crashed (native code or out of memory)", None)
                pool.shutdown(wait=False, cancel_futures=True)
                pool = None
            except Exception as exc:
                done[i] = _failed(path, settings, exc)
    except KeyboardInterrupt:
        if pool is not None:
            _terminate(pool)
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return done


def _failed(path: str, settings: Settings, exc: BaseException) -> FileOutcome:
    """A file whose check raised in the worker or whose result could not come back."""
    remote = getattr(exc, "__cause__", None)  # the worker's traceback, as text
    if remote is not None:
        detail = str(remote)
    else:
        import traceback

        detail = "".join(traceback.format_exception(exc))
    return internal_error(path, settings.enabled_codes(path), f"{type(exc).__name__}: {exc}", detail)


def _terminate(pool: "ProcessPoolExecutor") -> None:
    for process in list(getattr(pool, "_processes", {}).values()):
        try:
            process.terminate()
        except Exception:
            pass
    pool.shutdown(wait=False, cancel_futures=True)
