"""`schoolgate proxy`: the filter proxy service, mitmproxy's DumpMaster in-process with our addons.

One process serves one port. `--workers N` starts N such processes on consecutive ports (the listen
port and the N-1 after it), so every core can be used: on a gateway, the nftables `numgen` rule from
`schoolgate gateway nftables` spreads new connections over them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time

import click
from mitmproxy.options import Options
from mitmproxy.tools.dump import DumpMaster

from deploy.config import Config, parse_hostport
from deploy.context import CommandError, pass_app
from deploy.runtime import build_runtime
from filter_proxy import ca, pipeline

log = logging.getLogger("schoolgate.proxy")
ENV_UPSTREAM_CA = "SCHOOLGATE_PROXY_UPSTREAM_CA"  # tests only: a PEM CA to trust upstream, besides the system's


def mitmproxy_options(config: Config, port: int) -> dict[str, object]:
    """mitmproxy's options for one worker, from [proxy], [web] and the state folder."""
    host, _ = parse_hostport(config.proxy.listen)
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options: dict[str, object] = dict(
        mode=[f"{config.proxy.mode}@{listen}"],
        connection_strategy="lazy",  # nothing goes upstream before our hooks have decided
        confdir=str(ca.confdir(config.state_dir)),  # the school's CA, for intercept_tls
        block_global=False,  # who may connect is [network] client_networks (the Admission addon)
        stream_large_bodies="1m",  # stream big plain-HTTP bodies instead of buffering them
        schoolgate_public_url=config.web.public_url,
        schoolgate_intercept_tls=config.proxy.intercept_tls,
    )
    upstream_ca = os.environ.get(ENV_UPSTREAM_CA)
    if upstream_ca:
        options["ssl_verify_upstream_trusted_ca"] = upstream_ca
    return options


async def _serve(config: Config, port: int) -> None:
    runtime = build_runtime(config, "proxy").start()
    try:
        master = DumpMaster(Options(), with_termlog=False, with_dumper=False)
        master.addons.add(*pipeline.addons(runtime.store, runtime.writer.record, runtime.clients))
        master.options.update(**mitmproxy_options(config, port))  # after add: our options exist now
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, master.shutdown)
        log.info("filter proxy (%s mode) on %s port %d, policy version %s", config.proxy.mode,
                 config.proxy.listen.rsplit(":", 1)[0], port, runtime.store.current().version)
        await master.run()
    finally:
        runtime.stop()
        log.info("filter proxy on port %d stopped; %d events written", port, runtime.writer.stats.written)


def _run_workers(config_path: str | None, base_port: int, workers: int) -> None:
    """Start one `schoolgate proxy --port P` per worker; stop all when one stops or on a signal."""
    stopping = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    prefix = [sys.executable, "-m", "deploy.cli"] + (["--config", config_path] if config_path else [])
    children = [subprocess.Popen([*prefix, "proxy", "--port", str(base_port + i)]) for i in range(workers)]
    log.info("%d proxy workers on ports %d-%d", workers, base_port, base_port + workers - 1)
    try:
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    if not stopping:
        raise CommandError("a proxy worker stopped; stopped the others too")


@click.command()
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes, on the listen port and the ports after it (one per core).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Serve this port only (what each worker runs; default: the [proxy] listen port).")
@pass_app
def proxy(app, workers: int, port: int | None) -> None:
    """The filter proxy: blocks by host, URL and TLS server name, with block pages; never breaks allowed HTTPS."""
    config = app.config
    app.ready_database()
    _, listen_port = parse_hostport(config.proxy.listen)
    if workers > 1 and port is None:
        config_path = str(config.path) if config.path is not None else None
        _run_workers(config_path, listen_port, workers)
        return
    logging.getLogger("mitmproxy.proxy.server").setLevel(logging.WARNING)  # a line per connection otherwise
    asyncio.run(_serve(config, port or listen_port))


COMMANDS = [proxy]
