"""Executors map a pure batch function and return results in submission order."""

from __future__ import annotations

import io
import os
import sys
import time

import pytest

from jobs.executors import (
    ExecutorError,
    LocalExecutor,
    SerialExecutor,
    batched,
    make_executor,
)
from jobs.progress import Progress, format_duration


def _square_with_context(context, batch):
    # later batches finish first: the executor must still return them in order
    time.sleep(0.05 * (len(batch) % 3) if context.get("jitter") else 0)
    return [(x * x + context["offset"], os.getpid()) for x in batch]


def _fail_on_seven(context, batch):
    if 7 in batch:
        msg = "seven"
        raise ValueError(msg)
    return batch


def _crash(context, batch):
    os._exit(3)


def test_batched_is_independent_of_workers():
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched([], 3)) == []
    with pytest.raises(ValueError, match="batch size"):
        list(batched([1], 0))


def test_serial_executor_runs_in_process():
    out = list(SerialExecutor().map(_square_with_context, [[1, 2], [3]], context={"offset": 1}))
    assert [[v for v, _ in r] for r in out] == [[2, 5], [10]]
    assert {pid for r in out for _, pid in r} == {os.getpid()}


@pytest.fixture(scope="module")
def pool():
    with LocalExecutor(workers=2, preload=()) as ex:
        yield ex


def test_local_pool_keeps_submission_order_and_uses_workers(pool):
    batches = [list(range(i, i + (i % 3) + 1)) for i in range(0, 40, 4)]
    context = {"offset": 5, "jitter": True}
    expected = list(SerialExecutor().map(_square_with_context, batches, context=context))
    got = list(pool.map(_square_with_context, batches, context=context))
    assert [[v for v, _ in r] for r in got] == [[v for v, _ in r] for r in expected]
    pids = {pid for r in got for _, pid in r}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2


def test_local_pool_context_changes_between_maps(pool):
    a = list(pool.map(_square_with_context, [[1], [2]], context={"offset": 0}))
    b = list(pool.map(_square_with_context, [[1], [2]], context={"offset": 100}))
    assert [r[0][0] for r in a] == [1, 4]
    assert [r[0][0] for r in b] == [101, 104]


def test_local_pool_propagates_task_errors(pool):
    with pytest.raises(ValueError, match="seven"):
        list(pool.map(_fail_on_seven, [[1], [7], [9]]))
    # the pool survives a task exception
    assert list(pool.map(_fail_on_seven, [[1]])) == [[1]]


def test_local_pool_bounds_batches_in_flight(pool):
    pulled = []

    def source():
        for i in range(50):
            pulled.append(i)
            yield [i]

    results = pool.map(_fail_on_seven, (b for b in source() if b != [7]))
    first = next(results)
    assert first == [0]
    # only in_flight batches were taken from the source before the first result
    assert len(pulled) <= pool.in_flight + 1
    assert len(list(results)) == 48


def test_worker_crash_is_a_clear_error():
    with LocalExecutor(workers=1, preload=()) as ex:
        with pytest.raises(ExecutorError, match="--workers"):
            list(ex.map(_crash, [[1]]))


def test_make_executor_choices():
    assert isinstance(make_executor("local", workers=1), SerialExecutor)
    with pytest.raises(ValueError, match="unknown executor"):
        make_executor("spark")  # type: ignore[arg-type]


def test_ray_executor_matches_local(pool):
    ray = pytest.importorskip("ray")
    from jobs.executors import RayExecutor

    # this test module is not importable on Ray workers: ship its functions by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    batches = [list(range(i, i + 3)) for i in range(0, 30, 3)]
    context = {"offset": 7}
    local = list(pool.map(_square_with_context, batches, context=context))
    with RayExecutor(num_cpus=2, in_flight=3) as ex:
        assert ex.workers == 2
        got = list(ex.map(_square_with_context, batches, context=context))
        with pytest.raises(ValueError, match="seven"):
            list(ex.map(_fail_on_seven, [[1], [7]]))
    assert [[v for v, _ in r] for r in got] == [[v for v, _ in r] for r in local]


def test_progress_line_rate_and_eta():
    now = [0.0]
    out = io.StringIO()
    p = Progress(100, enabled=True, stream=out, interval=0, clock=lambda: now[0])
    now[0] = 10.0
    p.advance(25)
    assert p.line() == "已处理 25/100 个文件（2.5 个/秒，预计剩余 30秒）"
    now[0] = 40.0
    p.advance(75)
    p.close()
    text = out.getvalue()
    assert text.startswith("\r已处理 25/100")
    assert "用时 40秒" in text and text.endswith("\n")


def test_progress_is_silent_when_not_a_tty():
    out = io.StringIO()  # isatty() is False
    with Progress(10, stream=out) as p:
        p.advance(10)
    assert out.getvalue() == ""


def test_format_duration():
    assert format_duration(7) == "7秒"
    assert format_duration(65) == "1分05秒"
    assert format_duration(3725) == "1小时02分05秒"
