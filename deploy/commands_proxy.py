"""`schoolgate proxy`: the filter proxy service, mitmproxy's DumpMaster in-process with our addons.

One process serves one port. `--workers N` starts N such processes on consecutive ports (the listen
port and the N-1 after it), so every core can be used: on a gateway, the nftables `numgen` rule from
`schoolgate gateway nftables` spreads new connections over them.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import click
from mitmproxy.options import Options
from mitmproxy.tools.dump import DumpMaster

from deploy.config import Config, parse_hostport
from deploy.context import pass_app
from deploy.processes import run_workers
from deploy.root import build_runtime, proxy_addons, proxy_options

log = logging.getLogger("schoolgate.proxy")


async def _serve(config: Config, port: int) -> None:
    runtime = build_runtime(config, f"proxy-{port}").start()  # a spool folder of its own per worker
    try:
        master = DumpMaster(Options(), with_termlog=False, with_dumper=False)
        master.addons.add(*proxy_addons(config, runtime))
        master.options.update(**proxy_options(config, port))  # after add: our options exist now
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, master.shutdown)
        log.info("filter proxy (%s mode) on %s port %d, policy version %s", config.proxy.mode,
                 config.proxy.listen.rsplit(":", 1)[0], port, runtime.store.current().version)
        await master.run()
    finally:
        runtime.stop()
        log.info("filter proxy on port %d stopped; %d events written", port, runtime.writer.stats.written)


def quiet_mitmproxy(verbose: bool) -> None:
    """Hold mitmproxy's own log at WARNING unless asked: at INFO it writes a line for every client and
    server connect and disconnect, which buries the journal. Our own lines (a decision refused, an
    allowed site that failed upstream) are logged by `schoolgate.proxy` either way. mitmproxy's
    `termlog_verbosity` option does not apply: its terminal log addon is not loaded (`with_termlog=False`);
    its loggers feed Python logging, set up by the `schoolgate` command."""
    logging.getLogger("mitmproxy").setLevel(logging.NOTSET if verbose else logging.WARNING)


@click.command()
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes, on the listen port and the ports after it (one per core).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Serve this port only (what each worker runs; default: the [proxy] listen port).")
@click.option("-v", "--verbose", is_flag=True,
              help="Also log mitmproxy's line per connection (client and server connect, disconnect, errors).")
@pass_app
def proxy(app, workers: int, port: int | None, verbose: bool) -> None:
    """The filter proxy: blocks by host, URL and TLS server name, with block pages; never breaks allowed HTTPS."""
    config = app.config
    _ = app.site_id  # the school must be known (a clear message here, not a traceback in the event loop)
    _, listen_port = parse_hostport(config.proxy.listen)
    if workers > 1 and port is None:
        config_path = str(config.path) if config.path is not None else None
        extra = ["--verbose"] if verbose else []
        run_workers(config_path, "proxy", [["--port", str(listen_port + i), *extra] for i in range(workers)])
        return
    quiet_mitmproxy(verbose or logging.getLogger().isEnabledFor(logging.DEBUG))  # `schoolgate -v` shows all
    asyncio.run(_serve(config, port or listen_port))


COMMANDS = [proxy]
