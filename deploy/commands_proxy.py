"""`schoolgate proxy`: the filter proxy service, mitmproxy's DumpMaster in-process with our addons.

One process serves one port. `--workers N` starts N such processes on consecutive ports (the listen
port and the N-1 after it), so every core can be used: on a gateway, the nftables `numgen` rule from
`schoolgate gateway nftables` spreads new connections over them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal

import click
from mitmproxy.options import Options
from mitmproxy.tools.dump import DumpMaster

from deploy.config import Config, parse_hostport
from deploy.context import CommandError, pass_app
from deploy.root import build_runtime
from deploy.workers import WorkerStopped, run_workers
from filter_proxy import ca, pipeline
from filter_proxy.resolve import UpstreamResolver

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
        schoolgate_connect_ports=[str(p) for p in config.proxy.connect_ports],
        schoolgate_internal_destinations=list(config.proxy.internal_destinations),
        schoolgate_own_addresses=own_addresses(config),
        schoolgate_own_services=own_services(config, port),
    )
    upstream_ca = os.environ.get(ENV_UPSTREAM_CA)
    if upstream_ca:
        options["ssl_verify_upstream_trusted_ca"] = upstream_ca
    return options


def own_addresses(config: Config) -> list[str]:
    """The addresses this gateway is configured to answer on (listeners, block page): the proxy never
    connects to them. The block page address is served by the proxy itself, so nothing is lost."""
    texts = [config.network.block_page_ipv4, config.network.block_page_ipv6, config.proxy.listen, config.web.listen,
             config.gateway.dns_bypass_listen, config.gateway.dot_catch_listen, *config.dns.listen]
    found = []
    for text in texts:
        host = text if ipaddress_like(text) else parse_hostport(text)[0]
        if not ipaddress.ip_address(host).is_unspecified:
            found.append(host)
    return list(dict.fromkeys(found))


def own_services(config: Config, port: int) -> list[str]:
    """ADDRESS:PORT of the admin web and of the proxy's workers up to this one: never reached through the
    proxy, even when `[proxy] internal_destinations` covers their address."""
    web_host, web_port = parse_hostport(config.web.listen)
    proxy_host, proxy_port = parse_hostport(config.proxy.listen)
    services = [f"[{web_host}]:{web_port}"]
    services += [f"[{proxy_host}]:{p}" for p in range(proxy_port, max(port, proxy_port) + 1)]
    if port < proxy_port:
        services.append(f"[{proxy_host}]:{port}")
    return services


def ipaddress_like(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def upstream_resolver(config: Config) -> UpstreamResolver | None:
    """The school's `[dns] upstreams` for the proxy's own look-ups, or None (the system resolver)."""
    servers = [parse_hostport(item, default_port=53) for item in config.dns.upstreams]
    return UpstreamResolver(servers) if servers else None


async def _serve(config: Config, port: int) -> None:
    runtime = build_runtime(config, f"proxy-{port}").start()  # a spool folder of its own per worker
    try:
        master = DumpMaster(Options(), with_termlog=False, with_dumper=False)
        master.addons.add(*pipeline.addons(runtime.store, runtime.writer.record, runtime.clients,
                                           resolve=upstream_resolver(config)))
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
    app.ready_database()
    _, listen_port = parse_hostport(config.proxy.listen)
    if workers > 1 and port is None:
        config_path = str(config.path) if config.path is not None else None
        extra = ["--verbose"] if verbose else []
        try:
            run_workers(config_path, "proxy", [["--port", str(listen_port + i), *extra] for i in range(workers)])
        except WorkerStopped as exc:
            raise CommandError(str(exc)) from None
        return
    quiet_mitmproxy(verbose or logging.getLogger().isEnabledFor(logging.DEBUG))  # `schoolgate -v` shows all
    asyncio.run(_serve(config, port or listen_port))


COMMANDS = [proxy]
