"""The naive design, for comparison only: RQ's forking worker, one job per email, a new SMTP
connection per email. Run as ``python -m bench.naive_worker QUEUE`` with the stack's env."""

from __future__ import annotations

import sys

from rq import Worker

from workers import runtime, sending


def send_carefully(delivery_id: int) -> str:
    rt = runtime.current()
    transport = rt.make_transport()
    try:
        return sending.send_carefully(rt, transport, delivery_id)
    finally:
        transport.close()


if __name__ == "__main__":
    rt = runtime.current()
    Worker([sys.argv[1]], connection=rt.redis).work(logging_level="WARNING")
