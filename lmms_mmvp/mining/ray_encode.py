"""Encoding spread over a Ray cluster: one actor per worker loads both encoders once, shards
are handed out through ``ray.util.ActorPool`` and written by the driver as they finish, so resume
works as in a local run (``embeddings.encode_source``).

    mmvp mine --images /data/pool --out runs/mine --ray --ray-workers 2           # local runtime
    ray start --head                                   # on the head node; then `ray start
    mmvp mine --image-list pool.txt --out runs/mine --ray --ray-address auto \\
        --ray-workers 16 --ray-gpus-per-worker 1      # --address=HEAD:6379` on every other node

Workers open the images themselves: the paths must be readable on every node (a shared file
system), and this package must be installed there too (or shipped with Ray's ``runtime_env``).
An image a worker cannot read is skipped there and comes back with its shard, so the driver lists
it in ``skipped.csv`` as a local run does.
"""

from __future__ import annotations

import logging

from lmms_mmvp.mining.embeddings import (
    EncoderSpec,
    ImageEncoders,
    ShardResults,
    Shards,
    encode_shard,
)

logger = logging.getLogger(__name__)


class ShardEncoder:
    """A Ray actor's state: the encoders, loaded once per worker."""

    def __init__(self, spec: EncoderSpec) -> None:
        self.encoders = ImageEncoders(spec)

    def encode(self, source, shard: int, rows: range):
        return encode_shard(self.encoders, source, shard, rows)


def ray_runner(address: str | None = None, workers: int = 2, gpus_per_worker: float = 0):
    """An ``encode_source`` runner on Ray: ``address`` of a running cluster (``auto``, or
    ``ray://HOST:10001``), or None for a local runtime with ``workers`` CPUs."""

    def run(source, spec: EncoderSpec, shards: Shards) -> ShardResults:
        if not shards:
            return
        import ray
        from ray.util import ActorPool

        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=address, **({} if address else {"num_cpus": workers}))
        logger.info("Ray: %d encoder workers on %s", workers, address or "a local runtime")
        try:
            actor = ray.remote(num_cpus=1, num_gpus=gpus_per_worker)(ShardEncoder)
            source_ref = ray.put(source)  # shipped once, not once per shard
            pool = ActorPool([actor.remote(spec) for _ in range(min(workers, len(shards)))])
            yield from pool.map_unordered(lambda a, job: a.encode.remote(source_ref, *job), shards)
        finally:
            if started_here:
                ray.shutdown()

    return run
